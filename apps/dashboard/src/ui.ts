import { ApiError } from './api.js';
import { h, nextId } from './dom.js';
import type { Verdict } from './types.js';

/** The verdict as a badge: colour plus the word, never colour alone. */
export function verdictBadge(verdict: Verdict | null, state?: string): HTMLElement {
  if (verdict === 'OK') return h('span', { class: 'badge ok' }, 'OK');
  if (verdict === 'NOK') return h('span', { class: 'badge nok' }, 'NOK');
  return h('span', { class: 'badge muted' }, state ? state.toUpperCase() : '—');
}

/** A message box for a failed call; 403 gets a plain-language explanation. */
export function errorBox(e: unknown): HTMLElement {
  const msg =
    e instanceof ApiError
      ? e.forbidden
        ? `Not allowed: ${e.message}`
        : e.message
      : e instanceof Error
        ? e.message
        : String(e);
  return h('p', { class: 'alert error', role: 'alert' }, msg);
}

export function loading(what: string): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

export function pageHeader(title: string, ...extra: Array<Node | string | null>): HTMLElement {
  return h('header', { class: 'page-header' }, h('h1', { tabindex: '-1' }, title), ...extra);
}

/** Explains why an engineer-only control is not there for this user. */
export function engineersOnly(what: string): HTMLElement {
  return h(
    'p',
    { class: 'alert info', role: 'note' },
    `Only engineers and admins can ${what}. You are signed in as a supervisor.`,
  );
}

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels); resolves null when cancelled. */
export function confirmAction(opts: {
  title: string;
  message: string;
  confirmLabel: string;
  danger?: boolean;
  askReason?: boolean;
}): Promise<{ reason?: string } | null> {
  return new Promise((resolve) => {
    const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 1000 });
    const reasonId = nextId('reason');
    reason.id = reasonId;
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': `${reasonId}-title` },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: `${reasonId}-title` }, opts.title),
        h('p', null, opts.message),
        opts.askReason
          ? h(
              'div',
              { class: 'field' },
              h('label', { for: reasonId }, 'Reason (kept in the audit log)'),
              reason,
            )
          : null,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'secondary' }, 'Cancel'),
          h(
            'button',
            { type: 'submit', value: 'ok', class: opts.danger ? 'danger' : 'primary' },
            opts.confirmLabel,
          ),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(ok ? { reason: reason.value.trim() || undefined } : null);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}
