import type { AppContext } from '../context.js';
import { h, replace } from '../dom.js';
import { formatTime } from '../format.js';
import type { LabelKind, ResultLabel } from '../types.js';
import { errorBox } from '../ui.js';
import { maskPainter } from './mask-painter.js';

const CHOICES: Record<'OK' | 'NOK', Array<[LabelKind, string]>> = {
  NOK: [
    ['confirmed_defect', 'Confirm defect'],
    ['false_alarm', 'False alarm'],
  ],
  OK: [
    ['confirmed_ok', 'Confirm OK'],
    ['missed_defect', 'Missed defect'],
  ],
};

/** Labels that say the part is defective: only these carry a painted mask. */
const DEFECT: LabelKind[] = ['confirmed_defect', 'missed_defect'];

const TEXT: Record<LabelKind, string> = {
  confirmed_defect: 'confirmed defect',
  false_alarm: 'false alarm',
  missed_defect: 'missed defect',
  confirmed_ok: 'confirmed OK',
};

/** A supervisor's verdict on the result they opened; a second click is a correction (a new version). */
export function labelCard(ctx: AppContext, resultId: string, verdict: 'OK' | 'NOK' | null): HTMLElement {
  const card = h('article', { class: 'card', 'aria-label': 'Supervisor label' }, h('h2', null, 'Label'));
  if (!verdict) {
    card.append(h('p', { class: 'muted' }, 'This result has no verdict to confirm or correct.'));
    return card;
  }
  const note = h('input', { type: 'text', name: 'note', maxlength: '2000', placeholder: 'Note (optional)' });
  const status = h('div', { role: 'status' });
  const history = h('div', null);
  const refresh = async () => {
    try {
      const labels = await ctx.api.get<ResultLabel[]>(`/results/${resultId}/labels`);
      replace(
        history,
        labels.length
          ? h(
              'ol',
              { class: 'label-history', 'aria-label': 'Label history' },
              ...labels.map((l) =>
                h(
                  'li',
                  null,
                  `v${l.version}: ${TEXT[l.label]}${l.maskRef ? ' with mask' : ''} by ${l.createdBy}, ${formatTime(l.createdAt)}${l.note ? ` — ${l.note}` : ''}`,
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'Not labelled yet.'),
      );
    } catch (e) {
      replace(history, errorBox(e));
    }
  };
  const painter = maskPainter(ctx, resultId);
  const buttons = CHOICES[verdict].map(([kind, text]) => {
    const b = h('button', { type: 'button', 'data-label': kind }, text);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const mask = DEFECT.includes(kind) ? await painter.maskPngBase64() : null;
        const row = await ctx.api.post<ResultLabel>(`/results/${resultId}/labels`, {
          label: kind,
          ...(note.value.trim() ? { note: note.value.trim() } : {}),
          ...(mask ? { maskPngBase64: mask } : {}),
        });
        replace(
          status,
          `Saved: ${TEXT[row.label]}${row.maskRef ? ' with mask' : ''} (version ${row.version}).`,
        );
        note.value = '';
        await refresh();
      } catch (e) {
        replace(status, errorBox(e));
      } finally {
        b.disabled = false;
      }
    });
    return b;
  });
  card.append(h('div', { class: 'actions' }, ...buttons), note, status, painter.element, history);
  void refresh();
  return card;
}
