// The demo's browser code: a todo list on walcast/client, as an app would write it.
// ?tenant=…&user=… choose who you are (dev tokens exist in embedded mode only). A todo is
// its owner's until shared with the tenant (the table's row policy, DESIGN §10): the
// server sends each user only the rows they may see, and a share or unshare arrives in
// the others' lists as an insert or a delete. A todo without an owner (inserted with
// psql) is everyone's.
import { createClient, WalcastConflictError } from '/demo/client/index.js';

const params = new URLSearchParams(location.search);
const tenant = params.get('tenant') || 'acme';
const user = params.get('user') || `guest-${Math.random().toString(36).slice(2, 6)}`;
const $ = (id) => document.getElementById(id);

$('tenant').textContent = tenant;
$('me').textContent = user;
$('as-other').href = `?tenant=${encodeURIComponent(tenant)}&user=bob`;
$('other-tenant').href = '?tenant=globex&user=gina';

const walcast = createClient({
  url: location.origin,
  token: async () => (await (await fetch(`/dev/token?${new URLSearchParams({ tenant, sub: user })}`)).json()).token,
});
// Edits made offline survive a reload: they are sent when the page is back (once each),
// stored under the token's tenant and user. Every tab of this user shares one stream.
const todos = walcast.subscribe({
  tables: ['todos'],
  rooms: ['todos'],
  persistEdits: { storage: localStorage, key: 'todos' },
});
const me = walcast.presence('todos', { state: { editing: null } });

/** The todo being edited here: its row as it was when editing began (the version to expect). */
let editing = null;

function render() {
  $('status').textContent = todos.status;
  $('status').className = `badge ${todos.status}`;
  $('pending').hidden = todos.pendingEdits === 0;
  $('pending').textContent = `${todos.pendingEdits} change${todos.pendingEdits === 1 ? '' : 's'} not saved yet`;
  renderPeople();
  renderTodos();
}

function renderPeople() {
  const people = todos.members('todos').map((member) => {
    const chip = document.createElement('span');
    chip.className = 'person';
    chip.dataset.user = member.user;
    chip.textContent = member.user + (member.connection === me.connection ? ' (you)' : '');
    return chip;
  });
  $('people').replaceChildren(...people);
}

function renderTodos() {
  // Others' edits and presence re-render the list while you type: the same input element
  // moves into the new list (moving it blurs it), and gets its focus and selection back.
  const input = editing?.input;
  const selection = input && document.activeElement === input ? [input.selectionStart, input.selectionEnd] : undefined;
  const editors = new Map(
    todos
      .members('todos')
      .filter((member) => member.state.editing != null && member.connection !== me.connection)
      .map((member) => [String(member.state.editing), member.user]),
  );
  const rows = todos.rows('todos');
  // Unshared by its owner (or deleted) while being edited here: it is gone, and so is the edit.
  if (editing && !rows.some((row) => row.id === editing.row.id)) {
    editing = null;
    me.set({ editing: null });
  }
  const items = rows.map((row) => {
    const item = document.createElement('li');
    item.dataset.id = String(row.id ?? '');
    item.classList.toggle('done', row.done === true);
    item.classList.toggle('pending', row.id === undefined);
    const done = document.createElement('input');
    done.type = 'checkbox';
    done.checked = row.done === true;
    done.setAttribute('aria-label', 'done');
    done.onchange = () => act(todos.update('todos', row, { done: done.checked }));
    item.append(done);
    if (editing && editing.row.id === row.id) {
      const save = button('Save', () => saveTitle());
      save.className = 'save';
      item.append(
        editing.input,
        save,
        button('Cancel', () => stopEditing()),
      );
    } else {
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = String(row.title);
      item.append(title);
      item.append(visibility(row));
      const by = editors.get(String(row.id));
      if (by) item.append(Object.assign(document.createElement('span'), { className: 'editing-by', textContent: `${by} is editing` }));
      if (row.id !== undefined) {
        // Only the owner may share or unshare: anyone else's unshare would hide the row from
        // its author, which the policy refuses (403). A shared todo is everyone's to tick,
        // rename or delete: the row stays visible to them, so the policy lets those through.
        if (ownerOf(row) === user) item.append(shareButton(row));
        item.append(
          button('Edit', () => startEditing(row)),
          button('Delete', () => act(todos.remove('todos', row))),
        );
      }
    }
    return item;
  });
  $('todos').replaceChildren(...items);
  if (selection) {
    input.focus();
    input.setSelectionRange(selection[0], selection[1]);
  }
}

/** Who owns a todo: the server sets owner_id from the token, so an insert not yet confirmed is ours. */
function ownerOf(row) {
  return row.id === undefined && row.owner_id === undefined ? user : (row.owner_id ?? null);
}

/** Who sees a todo, as its owner's policy says: "private", "shared", "shared by bob" or "everyone's". */
function visibility(row) {
  const owner = ownerOf(row);
  const badge = (kind, text) => Object.assign(document.createElement('span'), { className: `visibility ${kind}`, textContent: text });
  if (owner === null) return badge('everyone', "everyone's");
  if (owner !== user) return badge('shared', `shared by ${owner}`);
  return row.shared === true ? badge('shared', 'shared') : badge('private', 'private');
}

function shareButton(row) {
  const shared = row.shared === true;
  const element = button(shared ? 'Unshare' : 'Share', () => act(todos.update('todos', row, { shared: !shared })));
  element.className = 'share';
  element.setAttribute('aria-pressed', String(shared));
  element.title = shared ? 'Make it private: only you will see it' : 'Share it with everyone in your tenant';
  return element;
}

function button(label, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.onclick = onClick;
  return element;
}

function startEditing(row) {
  const input = Object.assign(document.createElement('input'), { type: 'text', className: 'title-input', value: String(row.title) });
  editing = { row, input };
  me.set({ editing: row.id });
  render();
  input.focus();
}

function stopEditing() {
  editing = null;
  me.set({ editing: null });
  render();
}

/** Saves against the version the edit began with: a change by someone else in between is a 409. */
async function saveTitle() {
  const { row } = editing;
  const draft = editing.input.value;
  stopEditing();
  try {
    await todos.update('todos', row, { title: draft });
  } catch (error) {
    if (error instanceof WalcastConflictError) return askAboutConflict(error.current, draft);
    alert(error.message);
  }
}

function askAboutConflict(current, mine) {
  $('conflict-theirs').textContent = String(current.title);
  $('conflict-mine').textContent = mine;
  $('conflict').hidden = false;
  $('keep-theirs').onclick = () => {
    $('conflict').hidden = true;
  };
  $('use-mine').onclick = () => {
    $('conflict').hidden = true;
    act(todos.update('todos', current, { title: mine }));
  };
}

function act(edit) {
  edit.catch((error) => {
    if (error instanceof WalcastConflictError) return; // the list already shows the row as it is now
    alert(error.message);
  });
  render();
}

$('add').onsubmit = (event) => {
  event.preventDefault();
  const title = $('new-title').value.trim();
  if (title) act(todos.insert('todos', { title }));
  $('new-title').value = '';
};

todos.on('rows', render);
todos.on('presence', render);
todos.on('status', render);
addEventListener('pagehide', () => void me.leave());
render();
