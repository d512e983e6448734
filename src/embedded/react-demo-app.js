// The React demo's browser code: the shared todo list on walcast/react, as a React app
// would write it (without JSX, so it builds without a compiler step). ?tenant=…&user=…
// choose who you are (dev tokens exist in embedded mode only).
import { createElement as h, StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from 'walcast/client';
import { usePresence, useRows, useStatus, useSubscription } from 'walcast/react';

const params = new URLSearchParams(location.search);
const tenant = params.get('tenant') || 'acme';
const user = params.get('user') || `guest-${Math.random().toString(36).slice(2, 6)}`;

const walcast = createClient({
  url: location.origin,
  token: async () => (await (await fetch(`/dev/token?${new URLSearchParams({ tenant, sub: user })}`)).json()).token,
});
const me = walcast.presence('todos', { state: {} });
addEventListener('pagehide', () => void me.leave());

function App() {
  const todos = useSubscription(walcast, { tables: ['todos'], rooms: ['todos'] });
  const rows = useRows(todos, 'todos');
  const status = useStatus(todos);
  const here = usePresence(todos, 'todos');
  const [title, setTitle] = useState('');
  const [problem, setProblem] = useState('');
  const act = (edit) => edit.catch((error) => setProblem(error.message));
  const add = (event) => {
    event.preventDefault();
    if (title.trim()) act(todos.insert('todos', { title: title.trim() }));
    setTitle('');
  };
  return h('main', null,
    h('header', null,
      h('h1', null, 'Shared todos (React)'),
      h('span', null, 'tenant ', h('b', null, tenant), ', you are ', h('b', null, user)),
      h('span', { id: 'status', className: `badge ${status}` }, status)),
    h('div', { id: 'people', 'aria-label': 'here now' },
      here.map((member) => h('span', { key: member.connection, className: 'person', 'data-user': member.user }, member.user))),
    problem && h('p', { id: 'problem', role: 'alert' }, problem),
    h('form', { id: 'add', onSubmit: add },
      h('input', { id: 'new-title', type: 'text', value: title, placeholder: 'What needs doing?', maxLength: 200, onChange: (event) => setTitle(event.target.value) }),
      h('button', null, 'Add')),
    h('ul', { id: 'todos' }, rows.map((row) => h('li', { key: String(row.id ?? row.title), className: row.done ? 'done' : '' },
      h('input', { type: 'checkbox', 'aria-label': 'done', checked: row.done === true, onChange: (event) => act(todos.update('todos', row, { done: event.target.checked })) }),
      h('span', { className: 'title' }, String(row.title)),
      row.id !== undefined && h('button', { type: 'button', onClick: () => act(todos.remove('todos', row)) }, 'Delete')))));
}

createRoot(document.getElementById('root')).render(h(StrictMode, null, h(App)));
