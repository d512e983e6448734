// The React demo's browser code: the shared todo list on walcast/react, as a React app
// would write it (without JSX, so it builds without a compiler step). ?tenant=…&user=…
// choose who you are (dev tokens exist in embedded mode only). As on the plain page, a
// todo is its owner's until shared (the table's row policy); one without an owner is everyone's.
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

/** The server sets owner_id from the token, so an insert not yet confirmed is ours. */
const ownerOf = (row) => (row.id === undefined && row.owner_id === undefined ? user : (row.owner_id ?? null));

function Visibility({ row }) {
  const owner = ownerOf(row);
  if (owner === null) return h('span', { className: 'visibility everyone' }, "everyone's");
  if (owner !== user) return h('span', { className: 'visibility shared' }, `shared by ${owner}`);
  return row.shared === true ? h('span', { className: 'visibility shared' }, 'shared') : h('span', { className: 'visibility private' }, 'private');
}

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
  return h(
    'main',
    null,
    h(
      'header',
      null,
      h('h1', null, 'Shared todos (React)'),
      h('span', null, 'tenant ', h('b', null, tenant), ', you are ', h('b', null, user)),
      h('span', { id: 'status', className: `badge ${status}` }, status),
    ),
    h(
      'div',
      { id: 'people', 'aria-label': 'here now' },
      here.map((member) => h('span', { key: member.connection, className: 'person', 'data-user': member.user }, member.user)),
    ),
    problem && h('p', { id: 'problem', role: 'alert' }, problem),
    h(
      'form',
      { id: 'add', onSubmit: add },
      h('input', {
        id: 'new-title',
        type: 'text',
        value: title,
        placeholder: 'What needs doing?',
        maxLength: 200,
        onChange: (event) => setTitle(event.target.value),
      }),
      h('button', { type: 'submit' }, 'Add'),
    ),
    h(
      'ul',
      { id: 'todos' },
      rows.map((row) =>
        h(
          'li',
          { key: String(row.id ?? row.title), className: row.done ? 'done' : '' },
          h('input', {
            type: 'checkbox',
            'aria-label': 'done',
            checked: row.done === true,
            onChange: (event) => act(todos.update('todos', row, { done: event.target.checked })),
          }),
          h('span', { className: 'title' }, String(row.title)),
          h(Visibility, { row }),
          // Only the owner may share or unshare (anyone else's unshare is a 403 policy_violation).
          row.id !== undefined &&
            ownerOf(row) === user &&
            h(
              'button',
              {
                type: 'button',
                className: 'share',
                'aria-pressed': row.shared === true,
                onClick: () => act(todos.update('todos', row, { shared: row.shared !== true })),
              },
              row.shared === true ? 'Unshare' : 'Share',
            ),
          row.id !== undefined && h('button', { type: 'button', onClick: () => act(todos.remove('todos', row)) }, 'Delete'),
        ),
      ),
    ),
  );
}

createRoot(document.getElementById('root')).render(h(StrictMode, null, h(App)));
