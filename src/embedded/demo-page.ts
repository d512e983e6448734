// The demo's pages: shells for demo-app.js, which uses walcast/client as any app would,
// and for the React version (/react), which uses walcast/react.
const STYLE = `<style>
  :root { font: 15px/1.45 system-ui, sans-serif; color: #1d2330; }
  body { margin: 2rem auto; max-width: 40rem; padding: 0 1rem; }
  header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
  h1 { font-size: 1.4rem; margin: 0; }
  .badge { border-radius: 1rem; padding: .1rem .6rem; font-size: .8rem; background: #e7e9ee; }
  .badge.live { background: #d3f2dc; }
  .badge.stopped, .badge.reconnecting { background: #fde2cf; }
  #people { display: flex; gap: .4rem; flex-wrap: wrap; margin: .8rem 0; min-height: 1.8rem; }
  .person { background: #eef1fb; border-radius: 1rem; padding: .15rem .6rem; font-size: .85rem; }
  form { display: flex; gap: .5rem; margin: 1rem 0; }
  input[type=text] { flex: 1; padding: .4rem .5rem; font: inherit; }
  button { font: inherit; padding: .3rem .7rem; cursor: pointer; }
  ul { list-style: none; padding: 0; }
  li { display: flex; align-items: center; gap: .5rem; padding: .35rem 0; border-bottom: 1px solid #eceef2; }
  li .title { flex: 1; }
  li.done .title { text-decoration: line-through; color: #7a8191; }
  li.pending { opacity: .6; }
  .editing-by { font-size: .75rem; color: #5b6bd6; }
  .visibility { font-size: .75rem; border-radius: 1rem; padding: .05rem .5rem; white-space: nowrap; }
  .visibility.private { background: #eceef2; color: #4a5160; }
  .visibility.shared { background: #d3f2dc; color: #1d5a30; }
  .visibility.everyone { background: #fdf0c4; color: #6b5410; }
  button.share[aria-pressed=true] { background: #d3f2dc; }
  #conflict { border: 2px solid #e58a3c; background: #fff6ee; padding: .8rem 1rem; border-radius: .4rem; }
  #conflict[hidden] { display: none; }
  footer { margin-top: 2rem; font-size: .85rem; color: #5f6675; }
</style>`;

export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>walcast: shared todos</title>
<script type="importmap">{ "imports": { "eventsource-parser": "/demo/vendor/eventsource-parser.js" } }</script>
${STYLE}
<header>
  <h1>Shared todos</h1>
  <span>tenant <b id="tenant"></b>, you are <b id="me"></b></span>
  <span id="status" class="badge">connecting</span>
  <span id="pending" class="badge" hidden></span>
</header>
<div id="people" aria-label="here now"></div>
<div id="conflict" role="alertdialog" hidden>
  <p><b>Someone changed this todo while you were editing it.</b></p>
  <p>Now: “<span id="conflict-theirs"></span>”. Yours: “<span id="conflict-mine"></span>”.</p>
  <button id="keep-theirs">Keep theirs</button> <button id="use-mine">Use mine</button>
</div>
<form id="add"><input id="new-title" type="text" placeholder="What needs doing?" maxlength="200" required><button>Add</button></form>
<ul id="todos"></ul>
<footer>Your todos are private until you share them with your tenant. Open this page in a second window (or
  <a id="as-other">as another user</a>, or <a id="other-tenant">as tenant globex</a>): shares, edits, who is here, and conflicts
  show live. Rows changed in psql show too (one inserted without an owner is everyone's). The same list in React: <a href="/react">/react</a>.</footer>
<script type="module" src="/demo/demo-app.js"></script>
</html>
`;

/** /react: the same list in React (dist/embedded/react-demo.js bundles React and the SDK). */
export const REACT_DEMO_PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>walcast: shared todos (React)</title>
${STYLE}
<div id="root"></div>
<script type="module" src="/demo/react-demo.js"></script>
</html>
`;
