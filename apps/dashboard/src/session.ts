import type { LoginResponse, Role } from './types.js';

const KEY = 'diad.session';

export interface SessionData {
  token: string;
  role: Role;
  username: string;
  expiresAt: string;
}

/** The signed-in user, kept in localStorage so a wall display survives a reload; expired tokens are dropped. */
export class Session {
  private data: SessionData | null = null;

  constructor(private readonly storage: Storage = localStorage) {
    try {
      const raw = storage.getItem(KEY);
      const parsed = raw ? (JSON.parse(raw) as SessionData) : null;
      if (parsed && Date.parse(parsed.expiresAt) > Date.now()) this.data = parsed;
      else storage.removeItem(KEY);
    } catch {
      storage.removeItem(KEY);
    }
  }

  get current(): SessionData | null {
    if (this.data && Date.parse(this.data.expiresAt) <= Date.now()) this.clear();
    return this.data;
  }

  get token(): string | null {
    return this.current?.token ?? null;
  }

  /** Engineers and admins change rollouts and thresholds; supervisors look. */
  get canOperate(): boolean {
    const role = this.current?.role;
    return role === 'engineer' || role === 'admin';
  }

  start(username: string, login: LoginResponse): void {
    this.data = { token: login.token, role: login.role, username, expiresAt: login.expiresAt };
    this.storage.setItem(KEY, JSON.stringify(this.data));
  }

  clear(): void {
    this.data = null;
    this.storage.removeItem(KEY);
  }
}
