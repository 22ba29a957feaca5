/* The page's state and its conversation with the sandbox's /ui/api: who is acting, which
 * channel and side pane are open, the directory of names, the state poll and the POSTed actions.
 *
 * app.js registers the page's render function with onRender; everything here that changes what
 * is shown calls it.
 */
window.SandboxClient = (() => {
  "use strict";

  const {$, toast} = SandboxDom;

  const store = {
    me: localStorage.getItem("sandbox.user") || "",
    channelId: localStorage.getItem("sandbox.channel") || "",
    state: null,
    etag: null,
    side: null, // {kind: "thread", ts} or {kind: "pins"}
    dir: {users: new Map(), groups: new Map(), channels: new Map(), version: 0, key: ""},
    messageNodes: new Map(), // key -> {sig, node}, so an unchanged message keeps its DOM (and open menus)
    modal: null, // {key, viewId, form}
    stick: true, // the message list is scrolled to the bottom, so new messages keep it there
    opening: null, // the channel id still to be shown at its headline once that arrives (messages.js)
  };
  let render = () => {}; // the page's render, set by app.js

  function onRender(fn) {
    render = fn;
  }

  // --- talking to the sandbox ----------------------------------------------------------------------

  async function api(path, body) {
    let response;
    try {
      response = await fetch("api/" + path, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body)});
    } catch (err) {
      toast(`The sandbox did not answer: ${err}`, "error");
      return null;
    }
    let data;
    try { data = await response.json(); } catch { data = {ok: false, error: `HTTP ${response.status}`}; }
    if (!data.ok && !data.errors) toast(failure(data), "error", 9000);
    if (data.warning) toast(data.warning, "warn", 9000);
    poll();
    return data;
  }

  function failure(data) {
    let text = data.error || "That did not work.";
    const bot = data.bot;
    if (bot && bot.body) text += `\n${typeof bot.body === "string" ? bot.body : JSON.stringify(bot.body)}`.slice(0, 600);
    return text;
  }

  let polling = false, pollAgain = false;

  async function poll() {
    if (polling) { pollAgain = true; return; }
    polling = true;
    try {
      const headers = store.etag ? {"If-None-Match": store.etag} : {};
      const response = await fetch(`api/state?user=${encodeURIComponent(store.me)}`, {headers, cache: "no-store"});
      $("offline").hidden = true;
      if (response.status === 304) return;
      if ((response.status === 404 || response.status === 403) && store.me) {
        store.me = ""; // that person is gone (a reset, another workspace): start as the first one
        store.etag = null;
        pollAgain = true;
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const state = await response.json();
      store.etag = response.headers.get("ETag");
      store.state = state;
      if (!store.me) setMe(state.me, false);
      render();
    } catch (err) {
      $("offline").hidden = false;
    } finally {
      polling = false;
      if (pollAgain) { pollAgain = false; poll(); }
    }
  }

  // --- the directory: names for ids ------------------------------------------------------------------

  function rebuildDirectory(state) {
    const key = JSON.stringify([state.users, state.usergroups, state.channels.map((c) => [c.id, c.name])]);
    if (key === store.dir.key) return;
    store.dir = {
      users: new Map(state.users.map((u) => [u.id, u])),
      groups: new Map(state.usergroups.map((g) => [g.id, g])),
      channels: new Map(state.channels.map((c) => [c.id, c])),
      version: store.dir.version + 1,
      key,
    };
  }

  function userName(id) {
    const user = store.dir.users.get(id);
    return user ? user.name : id;
  }

  // --- who is acting, and what is open ---------------------------------------------------------------

  const currentChannel = () => store.state && store.state.channels.find((c) => c.id === store.channelId);

  function openSide(side) {
    store.side = side;
    if (store.state) render();
    if (side && side.kind === "thread") $("thread-composer").focus();
  }

  function selectChannel(id) {
    store.channelId = id;
    localStorage.setItem("sandbox.channel", id);
    store.side = store.side && store.side.kind === "pins" ? store.side : null;
    if (store.state) render();
    $("composer").focus();
  }

  function setMe(id, refresh = true) {
    store.me = id;
    localStorage.setItem("sandbox.user", id);
    if (refresh) {
      store.etag = null;
      store.side = null;
      store.modal = null;
      poll();
    }
  }

  return {store, onRender, api, failure, poll, rebuildDirectory, currentChannel, userName, openSide, selectChannel, setMe};
})();
