/** Client-side routing over real paths (the control plane answers any non-API path with index.html). */

export interface View {
  title: string;
  el: HTMLElement;
  /** Called when the view is left: stop timers, drop live subscriptions. */
  dispose?(): void;
}

export interface RouteMatch {
  params: Record<string, string>;
  search: URLSearchParams;
}

export interface Route {
  path: string;
  render(match: RouteMatch): View;
}

/** Matches `/results/:id` style patterns; returns the named segments or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const ps = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  if (ps.length !== xs.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i].startsWith(':')) {
      try {
        params[ps[i].slice(1)] = decodeURIComponent(xs[i]);
      } catch {
        return null;
      }
    } else if (ps[i] !== xs[i]) return null;
  }
  return params;
}

export class Router {
  private current: View | null = null;
  private generation = 0;

  constructor(
    private readonly routes: Route[],
    private readonly mount: (view: View) => void,
    private readonly fallback: string,
  ) {
    window.addEventListener('popstate', () => this.render());
    // Same-origin links navigate in place; modified clicks (new tab) keep browser behaviour.
    document.addEventListener('click', (ev) => {
      if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey)
        return;
      const a = (ev.target as Element | null)?.closest?.('a');
      if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
      if (a.pathname.startsWith('/api/')) return;
      ev.preventDefault();
      this.go(a.pathname + a.search);
    });
  }

  go(url: string, replace = false): void {
    if (replace) history.replaceState(null, '', url);
    else if (url !== location.pathname + location.search) history.pushState(null, '', url);
    this.render();
  }

  render(): void {
    const path = location.pathname;
    for (const r of this.routes) {
      const params = matchPath(r.path, path);
      if (!params) continue;
      const generation = ++this.generation;
      const view = r.render({ params, search: new URLSearchParams(location.search) });
      // The render redirected (e.g. to sign-in): that navigation has mounted its own view already.
      if (generation !== this.generation) {
        view.dispose?.();
        return;
      }
      this.current?.dispose?.();
      this.current = view;
      this.mount(view);
      return;
    }
    this.go(this.fallback, true);
  }
}
