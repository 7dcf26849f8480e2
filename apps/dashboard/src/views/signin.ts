import type { Api } from '../api.js';
import { field, h, replace } from '../dom.js';
import type { View } from '../router.js';
import type { LoginResponse } from '../types.js';
import { errorBox } from '../ui.js';

export function signInView(api: Api, onSignedIn: (username: string, login: LoginResponse) => void): View {
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    autofocus: true,
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const message = h('div', { 'aria-live': 'assertive' });
  const form = h(
    'form',
    { class: 'signin-form', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to DiAD Edge'),
    h('p', { class: 'muted' }, 'Defect history, trends, fleet and rollouts of your inspection lines.'),
    field('Username', username),
    field('Password', password),
    message,
    submit,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    replace(message);
    try {
      const login = await api.post<LoginResponse>('/auth/login', {
        username: username.value.trim(),
        password: password.value,
      });
      onSignedIn(username.value.trim(), login);
    } catch (e) {
      replace(message, errorBox(e));
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  return { title: 'Sign in', el: h('div', { class: 'signin' }, form) };
}
