import './styles.css';
import { Api } from './api.js';
import { type AppContext, cached } from './context.js';
import { LiveResults } from './live.js';
import { type Route, Router, type View } from './router.js';
import { Session } from './session.js';
import { Shell } from './shell.js';
import type { Device, Line, ModelVersion } from './types.js';
import { fleetView } from './views/fleet.js';
import { floorView } from './views/floor.js';
import { historyView } from './views/history.js';
import { resultView } from './views/result.js';
import { reviewView } from './views/review.js';
import { rolloutDetailView, rolloutsView } from './views/rollouts.js';
import { signInView } from './views/signin.js';
import { thresholdsView } from './views/thresholds.js';
import { trainingView } from './views/training.js';
import { trendsView } from './views/trends.js';

const root = document.getElementById('app')!;
const session = new Session();
const live = new LiveResults();
let shell: Shell | null = null;
let firstRender = true;

function toSignIn(): void {
  live.disconnect();
  shell?.stop();
  shell = null;
  // Several calls of one page may fail with 401 at once: the first one redirects and keeps the page to return to.
  if (location.pathname === '/signin') return;
  router.go(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true);
}

const api = new Api(session, toSignIn);

function signedIn(render: Route['render']): Route['render'] {
  return (m) => {
    if (!session.current) {
      toSignIn();
      return { title: 'Sign in', el: document.createElement('div') };
    }
    return render(m);
  };
}

const routes: Route[] = [
  {
    path: '/signin',
    render: (m) =>
      signInView(api, (username, login) => {
        session.start(username, login);
        const next = m.search.get('next');
        router.go(next?.startsWith('/') && !next.startsWith('//') ? next : '/history', true);
      }),
  },
  { path: '/history', render: signedIn((m) => historyView(ctx, m)) },
  { path: '/floor', render: signedIn(() => floorView(ctx)) },
  { path: '/results/:id', render: signedIn((m) => resultView(ctx, m.params.id)) },
  { path: '/trends', render: signedIn((m) => trendsView(ctx, m)) },
  { path: '/fleet', render: signedIn(() => fleetView(ctx)) },
  { path: '/rollouts', render: signedIn(() => rolloutsView(ctx)) },
  { path: '/rollouts/:id', render: signedIn((m) => rolloutDetailView(ctx, m.params.id)) },
  { path: '/thresholds', render: signedIn((m) => thresholdsView(ctx, m)) },
  { path: '/review', render: signedIn((m) => reviewView(ctx, m)) },
  { path: '/training', render: signedIn((m) => trainingView(ctx, m)) },
];

function mount(view: View): void {
  document.title = `${view.title} · DiAD Edge`;
  if (location.pathname === '/signin') {
    shell?.stop();
    shell = null;
    root.replaceChildren(view.el);
  } else {
    if (!shell) {
      shell = new Shell(ctx, () => {
        session.clear();
        toSignIn();
      });
      root.replaceChildren(shell.el);
      shell.start();
      live.connect(() => session.token);
    }
    shell.show(view);
  }
  // After navigation, move focus to the new page's heading so keyboard and screen-reader users start there.
  if (!firstRender) view.el.querySelector<HTMLElement>('h1')?.focus();
  firstRender = false;
}

const router = new Router(routes, mount, '/history');

const ctx: AppContext = {
  api,
  session,
  live,
  router,
  lines: cached(() => api.get<Line[]>('/lines')),
  models: cached(() => api.get<ModelVersion[]>('/models')),
  devices: cached(() => api.get<Device[]>('/devices'), 5000),
};

router.render();
