/* The sandbox page: a Slack-shaped client over the sandbox's /ui/api.
 *
 * Plain browser JavaScript, no build step and nothing fetched from elsewhere. Every piece of text
 * that came from the workspace goes into the page as a text node or an attribute value; nothing
 * is ever assigned to innerHTML. The server builds, signs and forwards what Slack would send to
 * the bot; the page only says who did what, where.
 *
 * The page's scripts, loaded in this order by index.html: dom.js (DOM helpers), client.js (state
 * and the sandbox API), mrkdwn.js, blocks.js (Block Kit), messages.js, modal.js, and this file:
 * the sidebar, header, side pane and composer, and starting it all.
 */
(() => {
  "use strict";

  const POLL_MS = 700;

  const {$, h, toast, tsKey, byTs, formatTime, closePopover} = SandboxDom;
  const {store, onRender, api, poll, currentChannel, rebuildDirectory, openSide, selectChannel, setMe} = SandboxClient;
  const {mrkdwn} = SandboxMrkdwn;
  const {renderMessages, messageNode} = SandboxMessages;
  const {renderModal} = SandboxModal;

  // --- unread marks ---------------------------------------------------------------------------------------

  function readMarks() {
    try { return JSON.parse(localStorage.getItem(`sandbox.read.${store.me}`) || "{}"); } catch { return {}; }
  }

  function markRead(channel) {
    const latest = channel.messages.reduce((max, m) => (tsKey(m.ts) > tsKey(max) ? m.ts : max), "0");
    const marks = readMarks();
    if (tsKey(latest) > tsKey(marks[channel.id] || "0")) {
      marks[channel.id] = latest;
      localStorage.setItem(`sandbox.read.${store.me}`, JSON.stringify(marks));
    }
  }

  function unreadCount(channel, marks) {
    const seen = tsKey(marks[channel.id] || "0");
    return channel.messages.filter((m) => m.user !== store.me && tsKey(m.ts) > seen
      && (!m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast")).length;
  }

  // --- rendering: sidebar -----------------------------------------------------------------------------

  function render() {
    const state = store.state;
    rebuildDirectory(state);
    if (!currentChannel()) {
      const fallback = state.channels.find((c) => c.name === "general") || state.channels[0];
      store.channelId = fallback ? fallback.id : "";
    }
    const channel = currentChannel();
    const unseen = Boolean(channel) && !(channel.id in readMarks()); // before this render marks it read
    if (channel && document.visibilityState !== "hidden") markRead(channel);
    renderWorkspace(state);
    renderChannelList(state);
    renderHeader(channel);
    renderWelcome(channel, state.welcome);
    renderMessages(channel, unseen);
    renderComposer(channel);
    renderSide(channel);
    renderModal(state.modals || []);
    renderScenarios(state);
  }

  function renderWorkspace(state) {
    $("team-name").textContent = state.team.name;
    const link = $("bot-link");
    link.textContent = state.bot_attached ? "bot attached" : "read-only: no bot attached";
    link.className = `bot-link ${state.bot_attached ? "attached" : "detached"}`;
    const switcher = $("user-switcher");
    const people = state.users.filter((u) => !u.is_bot);
    const wanted = people.map((u) => `${u.id}:${u.real_name}`).join("|");
    if (switcher.dataset.people !== wanted) {
      switcher.replaceChildren(...people.map((u) => h("option", {value: u.id}, `${u.real_name} (@${u.name})`)));
      switcher.dataset.people = wanted;
    }
    switcher.value = store.me;
  }

  function renderChannelList(state) {
    const marks = readMarks();
    const item = (channel) => {
      const unread = channel.id !== store.channelId ? unreadCount(channel, marks) : 0;
      const classes = [channel.id === store.channelId && "active", unread && "unread",
        !channel.is_member && !channel.is_im && "not-member"].filter(Boolean).join(" ");
      const prefix = channel.is_im ? "●" : channel.is_private ? "🔒" : "#";
      return h("li", {class: classes},
        h("button", {type: "button", "data-testid": `channel-${channel.name}`, "data-channel-id": channel.id,
          "data-unread": unread || null, onclick: () => selectChannel(channel.id)},
        h("span", {class: "prefix"}, prefix), h("span", {class: "name"}, channel.name),
        unread ? h("span", {class: "badge"}, String(unread)) : null));
    };
    const byName = (a, b) => a.name.localeCompare(b.name, undefined, {numeric: true}); // inc-…-2 before inc-…-10
    const rooms = state.channels.filter((c) => !c.is_im).sort(byName);
    const dms = state.channels.filter((c) => c.is_im).sort(byName);
    $("channel-list").replaceChildren(...rooms.map(item));
    $("dm-list").replaceChildren(...dms.map(item));
    $("dm-title").hidden = dms.length === 0;
  }

  function renderHeader(channel) {
    $("channel-title").textContent = channel ? (channel.is_im ? channel.name : (channel.is_private ? "🔒 " : "#") + channel.name) : "No channel";
    $("channel-topic").replaceChildren(channel && channel.topic ? mrkdwn(channel.topic) : "");
    $("pin-count").textContent = channel ? String(channel.pins.length) : "0";
    renderPinsBar(channel);
    document.title = channel ? `${channel.name} – Local Slack sandbox` : "Local Slack sandbox";
  }

  // The sandbox's own banner (not a message: nobody posted it) where a newcomer lands first.
  function renderWelcome(channel, welcome) {
    const shown = Boolean(welcome && channel && !channel.is_im && channel.name === welcome.channel);
    $("welcome").hidden = !shown;
    if (shown) $("welcome-text").textContent = welcome.text;
  }

  // The channel's pinned messages, always in view under the header (the 📌 button lists them in full).
  function renderPinsBar(channel) {
    const bar = $("pins-bar");
    const pinned = channel ? pinnedMessages(channel) : [];
    bar.hidden = pinned.length === 0;
    const key = JSON.stringify(pinned.map((m) => [m.ts, m.text]));
    if (bar.dataset.key === key) return;
    bar.dataset.key = key;
    bar.replaceChildren("📌", ...pinned.map((m) => h("button", {type: "button", "data-testid": "pin", "data-ts": m.ts,
      title: m.text || "", onclick: () => jumpTo(m)}, mrkdwn((m.text || "(no text)").split("\n")[0]))));
  }

  function pinnedMessages(channel) {
    return channel.pins.map((p) => channel.messages.find((m) => m.ts === p.ts)).filter(Boolean);
  }

  function renderComposer(channel) {
    const member = channel && (channel.is_member || channel.is_im);
    $("composer-form").hidden = !member;
    $("join-bar").hidden = !channel || member;
    if (channel && !member) $("join-text").textContent = `You are not in #${channel.name}.`;
    const composer = $("composer");
    composer.placeholder = channel ? `Message ${channel.is_im ? channel.name : "#" + channel.name} — or /incident help` : "";
  }

  function renderScenarios(state) {
    const scenarios = state.scenarios || [];
    $("scenarios").hidden = scenarios.length === 0;
    const key = JSON.stringify(scenarios);
    const list = $("scenario-list");
    if (list.dataset.key !== key) {
      list.replaceChildren(...scenarios.map((s) => h("li", {},
        h("button", {type: "button", "data-testid": `scenario-${s.name}`, title: s.description,
          onclick: () => startScenario(s)}, s.title, h("small", {}, s.description)))));
      list.dataset.key = key;
    }
    const titles = new Map(scenarios.map((s) => [s.name, s.title]));
    const icons = {running: "⏳", done: "✅", failed: "❌"};
    $("scenario-runs").replaceChildren(...(state.scenario_runs || []).slice(-5).reverse().map((run) =>
      h("li", {class: run.state, "data-testid": `scenario-run-${run.name}`, "data-state": run.state},
        `${icons[run.state] || ""} ${titles.get(run.name) || run.name}: ${run.state}`,
        run.error ? h("div", {}, run.error) : null,
        run.note ? h("div", {class: "note", "data-testid": "scenario-note"}, run.note) : null)));
  }

  async function startScenario(scenario) {
    const data = await api("scenario", {name: scenario.name});
    if (data && data.ok) toast(`Started: ${scenario.title}`, "ok", 3000);
  }

  // --- side pane: thread and pins -------------------------------------------------------------------------------

  function renderSide(channel) {
    const pane = $("side-pane");
    const side = store.side;
    if (!side || !channel) { pane.hidden = true; return; }
    pane.hidden = false;
    const body = $("side-body");
    if (side.kind === "pins") {
      $("side-title").textContent = `Pinned in ${channel.is_im ? channel.name : "#" + channel.name}`;
      body.setAttribute("data-testid", "pins-list");
      $("thread-form").hidden = true;
      const pinned = pinnedMessages(channel);
      body.replaceChildren(...(pinned.length ? pinned.map((m) => {
        const user = store.dir.users.get(m.user);
        return h("button", {type: "button", class: "pin-item", "data-testid": "pin-item", "data-ts": m.ts, onclick: () => jumpTo(m)},
          h("div", {class: "meta"}, h("span", {class: "author"}, user ? user.real_name : m.user), h("span", {class: "time"}, formatTime(m.ts))),
          mrkdwn((m.text || "").slice(0, 300)));
      }) : [h("div", {class: "empty"}, "Nothing is pinned here yet.")]));
      return;
    }
    const parent = channel.messages.find((m) => m.ts === side.ts);
    if (!parent) { store.side = null; pane.hidden = true; return; }
    $("side-title").textContent = "Thread";
    body.setAttribute("data-testid", "thread");
    $("thread-form").hidden = !(channel.is_member || channel.is_im);
    const replies = [
      ...channel.messages.filter((m) => m.thread_ts === side.ts && m.ts !== side.ts),
      ...channel.ephemerals.filter((e) => e.thread_ts === side.ts).map((e) => ({...e, ephemeral: true})),
    ].sort(byTs);
    const nodes = [messageNode(channel, parent, "thread"),
      h("div", {class: "thread-divider"}, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`),
      ...replies.map((m) => messageNode(channel, m, "thread"))];
    const same = nodes.length === body.childNodes.length && nodes.every((n, i) => n === body.childNodes[i] || i === 1);
    if (!same) body.replaceChildren(...nodes);
  }

  function jumpTo(message) {
    if (message.thread_ts && message.thread_ts !== message.ts) { openSide({kind: "thread", ts: message.thread_ts}); return; }
    const node = document.querySelector(`#messages [data-ts="${CSS.escape(message.ts)}"]`);
    if (!node) return;
    node.scrollIntoView({block: "center"});
    node.classList.add("highlight");
    setTimeout(() => node.classList.remove("highlight"), 1500);
  }

  // --- the composer and the chrome -------------------------------------------------------------------------

  function history() {
    try { return JSON.parse(localStorage.getItem("sandbox.commands") || "[]"); } catch { return []; }
  }

  async function sendComposer(textarea, threadTs = null) {
    const text = textarea.value.trim();
    const channel = currentChannel();
    if (!text || !channel) return;
    textarea.disabled = true;
    if (!threadTs) {
      // Whoever sends something wants to see the answer, which comes at the end (as in Slack).
      store.opening = null;
      store.stick = true;
      $("messages").scrollTop = $("messages").scrollHeight;
    }
    try {
      let data;
      if (text.startsWith("/")) {
        localStorage.setItem("sandbox.commands", JSON.stringify([...history().filter((c) => c !== text), text].slice(-30)));
        data = await api("command", {user: store.me, channel: channel.id, text});
      } else {
        data = await api("message", {user: store.me, channel: channel.id, text, ...(threadTs ? {thread_ts: threadTs} : {})});
      }
      // Keep what was typed when the sandbox refused it, so it can be fixed and sent again.
      if (data && (data.ok || data.bot)) textarea.value = "";
    } finally {
      textarea.disabled = false;
      textarea.focus();
    }
  }

  function composerKeys(textarea, threadTs) {
    let recalled = -1;
    textarea.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        recalled = -1;
        sendComposer(textarea, threadTs());
      } else if (e.key === "ArrowUp" && (textarea.value === "" || recalled >= 0)) {
        const past = history();
        if (!past.length) return;
        e.preventDefault();
        recalled = recalled < 0 ? past.length - 1 : Math.max(0, recalled - 1);
        textarea.value = past[recalled];
      }
    });
  }

  function start() {
    $("user-switcher").addEventListener("change", (e) => setMe(e.target.value));
    $("composer-form").addEventListener("submit", (e) => { e.preventDefault(); sendComposer($("composer")); });
    $("thread-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sendComposer($("thread-composer"), store.side && store.side.ts);
    });
    composerKeys($("composer"), () => null);
    composerKeys($("thread-composer"), () => store.side && store.side.ts);
    $("pins-button").addEventListener("click", () => openSide(store.side && store.side.kind === "pins" ? null : {kind: "pins"}));
    $("side-close").addEventListener("click", () => { store.side = null; if (store.state) render(); });
    $("join-button").addEventListener("click", () => {
      const channel = currentChannel();
      if (channel) api("join", {user: store.me, channel: channel.id});
    });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePopover(); });
    document.addEventListener("visibilitychange", () => { if (store.state) render(); });
    // Only scrolling up lets go of the bottom: content that grows (an image loading) fires no
    // scroll event, and a scroll event that lands after such growth must not count as leaving.
    let lastTop = 0;
    $("messages").addEventListener("scroll", (e) => {
      const list = e.currentTarget;
      if (list.scrollHeight - list.scrollTop - list.clientHeight < 60) store.stick = true;
      else if (list.scrollTop < lastTop) store.stick = false;
      lastTop = list.scrollTop;
    });
    // Scrolling or acting in the list yourself ends a channel's opening at its headline.
    for (const kind of ["wheel", "touchstart", "keydown", "mousedown"]) {
      $("messages").addEventListener(kind, () => { store.opening = null; }, {passive: true});
    }
    // The list shrinks while toasts take their room: one that was at its end stays there.
    new ResizeObserver(() => {
      const list = $("messages");
      if (store.stick) list.scrollTop = list.scrollHeight;
    }).observe($("messages"));
    poll();
    setInterval(poll, POLL_MS);
  }

  onRender(render);

  // Exposed for a browser test or the console; nothing on the page depends on it.
  window.sandboxUi = {mrkdwn, store, poll};

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
