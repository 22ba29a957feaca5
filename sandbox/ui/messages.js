/* The channel's messages: authors, content (blocks, attachments, files), reactions, the thread
 * link and each message's hover menu. An unchanged message keeps its DOM node between polls.
 */
window.SandboxMessages = (() => {
  "use strict";

  const {$, h, safeUrl, byTs, formatTime, popover} = SandboxDom;
  const {mrkdwn, EMOJI, REACTIONS} = SandboxMrkdwn;
  const {store, api, openSide, userName} = SandboxClient;
  const {renderBlocks} = SandboxBlocks;

  const IMAGE_FILE = /\.(png|jpe?g|gif|webp)$/i;
  const TEXT_FILE = /\.(md|markdown|txt|log|json|csv|ya?ml|py)$/i;

  function topLevel(channel) {
    const messages = channel.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast");
    const ephemerals = channel.ephemerals.filter((e) => !e.thread_ts).map((e) => ({...e, ephemeral: true}));
    return [...messages, ...ephemerals].sort(byTs);
  }

  // A channel opened for the first time (a new incident's) opens at its first pinned message, the
  // headline, not at the end of its long checklist. Until that pin arrives, and unless the person
  // scrolls or acts first (store.opening is cleared), the list follows new messages as usual.
  function renderMessages(channel, unseen = false) {
    const container = $("messages");
    if (!channel) { container.replaceChildren(h("div", {class: "empty"}, "No channel to show.")); return; }
    const items = topLevel(channel);
    const switched = container.dataset.channel !== channel.id || container.dataset.me !== store.me;
    const nodes = items.map((m) => messageNode(channel, m, "main"));
    const same = nodes.length === container.childNodes.length && nodes.every((n, i) => n === container.childNodes[i]);
    if (!same) container.replaceChildren(...(nodes.length ? nodes : [h("div", {class: "empty"}, "No messages yet.")]));
    container.dataset.channel = channel.id;
    container.dataset.me = store.me;
    if (switched) store.opening = unseen ? channel.id : null;
    if (store.opening === channel.id && scrollToHeadline(channel)) store.opening = null;
    else if (switched || (store.stick && !same)) scrollToEnd();
  }

  function scrollToHeadline(channel) {
    const first = channel.pins.map((p) => p.ts).sort((a, b) => byTs({ts: a}, {ts: b}))[0];
    const container = $("messages");
    const node = first && [...container.children].find((n) => n.dataset.ts === first && !n.dataset.ephemeral);
    if (!node) return false;
    container.scrollTop += node.getBoundingClientRect().top - container.getBoundingClientRect().top;
    store.stick = false; // what arrives below (the checklist) must not scroll the headline away
    return true;
  }

  function scrollToEnd() {
    const container = $("messages");
    container.scrollTop = container.scrollHeight;
    store.stick = true;
  }

  function messageNode(channel, message, where) {
    const pinned = channel.pins.some((p) => p.ts === message.ts);
    const key = `${where}:${channel.id}:${message.ephemeral ? "e" : "m"}:${message.ts}`;
    const sig = JSON.stringify([message, pinned, store.me, store.dir.version, channel.is_member]);
    const cached = store.messageNodes.get(key);
    if (cached && cached.sig === sig) return cached.node;
    if (store.messageNodes.size > 3000) store.messageNodes.clear(); // rebuilt as they are shown again
    const node = buildMessage(channel, message, pinned, where);
    store.messageNodes.set(key, {sig, node});
    return node;
  }

  function avatar(user) {
    const name = user ? user.real_name || user.name : "?";
    const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
    let hash = 0;
    for (const ch of (user ? user.id : name)) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
    return h("div", {class: "avatar", style: `background: hsl(${hash}, 45%, 42%)`, "aria-hidden": "true"},
      user && user.is_bot ? "🤖" : initials);
  }

  function buildMessage(channel, message, pinned, where) {
    // Ephemeral messages come from the app (chat.postEphemeral, a response_url, a command's answer).
    const bot = [...store.dir.users.values()].find((u) => u.is_bot);
    const user = message.ephemeral ? bot : store.dir.users.get(message.user);
    const author = user ? user.real_name || user.name : message.user || "app";
    const context = {kind: "message", channel: channel.id, ts: message.ts};
    const replies = message.reply_count && where === "main"
      ? h("button", {type: "button", class: "replies-link", "data-testid": "replies",
        onclick: () => openSide({kind: "thread", ts: message.ts})},
      `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`) : null;
    const node = h("div", {class: `message${message.ephemeral ? " ephemeral" : ""}`, "data-testid": "message",
      "data-ts": message.ts, "data-user": message.user || null, "data-ephemeral": message.ephemeral ? "true" : null},
    avatar(user),
    h("div", {class: "body"},
      h("div", {class: "meta"},
        h("span", {class: "author"}, author),
        (user && user.is_bot) || message.bot_id ? h("span", {class: "app-badge"}, "APP") : null,
        h("span", {class: "time", title: new Date(Number(message.ts.split(".")[0]) * 1000).toString()}, formatTime(message.ts)),
        message.edited ? h("span", {class: "edited", "data-testid": "edited"}, "(edited)") : null,
        pinned ? h("span", {class: "pinned-mark", "data-testid": "pinned"}, "📌 Pinned") : null),
      h("div", {class: "content"}, messageContent(message, context)),
      message.ephemeral ? h("div", {class: "only-you", "data-testid": "only-visible-to-you"}, "👁 Only visible to you",
        h("button", {type: "button", onclick: () => api("dismiss", {user: store.me, channel: channel.id, message_ts: message.ts})}, "Dismiss")) : null,
      reactionsRow(channel, message),
      replies));
    if (!message.ephemeral) node.append(hoverMenu(channel, message, where));
    return node;
  }

  function messageContent(message, context) {
    const parts = [];
    if (message.blocks && message.blocks.length) parts.push(renderBlocks(message.blocks, context));
    else if (message.text) parts.push(mrkdwn(message.text));
    for (const attachment of message.attachments || []) parts.push(renderAttachment(attachment, context));
    for (const file of message.files || []) parts.push(renderFile(file));
    return parts;
  }

  function renderAttachment(attachment, context) {
    const color = /^#?[0-9a-fA-F]{3,8}$/.test(attachment.color || "") ? (attachment.color.startsWith("#") ? attachment.color : "#" + attachment.color)
      : {good: "#2eb67d", warning: "#ecb22e", danger: "#e01e5a"}[attachment.color] || "#dddddd";
    const title = attachment.title ? (safeUrl(attachment.title_link || "")
      ? h("a", {href: safeUrl(attachment.title_link), target: "_blank", rel: "noopener noreferrer", class: "title"}, attachment.title)
      : h("div", {class: "title"}, attachment.title)) : null;
    return h("div", {class: "attachment", style: `border-left-color: ${color}`},
      attachment.pretext ? mrkdwn(attachment.pretext) : null, title,
      attachment.text ? mrkdwn(attachment.text) : null,
      attachment.fields ? h("div", {class: "fields"}, attachment.fields.map((f) => h("div", {}, h("strong", {}, f.title || ""), mrkdwn(f.value || "")))) : null,
      attachment.blocks ? renderBlocks(attachment.blocks, context) : null,
      attachment.footer ? h("div", {class: "block-context"}, attachment.footer) : null);
  }

  function fileUrl(file) {
    return `files/${encodeURIComponent(file.id)}/${encodeURIComponent(file.name || "file")}`;
  }

  function renderFile(file) {
    const name = file.name || file.title || "file";
    if (IMAGE_FILE.test(name)) {
      return h("figure", {class: "file-image", "data-testid": "file", "data-file-id": file.id},
        h("a", {href: fileUrl(file), target: "_blank", rel: "noopener"}, h("img", {src: fileUrl(file), alt: file.title || name,
          onload: () => { if (store.stick) scrollToEnd(); }})),
        h("figcaption", {class: "time"}, file.title || name));
    }
    const size = Number(file.size) ? `${Math.max(1, Math.round(file.size / 1024))} KB` : "";
    return h("div", {class: "file-card", "data-testid": "file", "data-file-id": file.id},
      h("span", {}, "📄"),
      h("div", {}, h("div", {class: "file-name"}, file.title || name), h("div", {class: "file-size"}, `${name} ${size}`)),
      TEXT_FILE.test(name) ? h("button", {type: "button", class: "btn", "data-testid": "view-file", onclick: () => viewFile(file)}, "View") : null,
      h("a", {class: "btn", href: fileUrl(file), download: name}, "Download"));
  }

  async function viewFile(file) {
    let text;
    try {
      const response = await fetch(fileUrl(file));
      text = response.ok ? await response.text() : `Could not read the file (HTTP ${response.status}).`;
    } catch (err) {
      text = `Could not read the file: ${err}`;
    }
    const close = () => layer.remove();
    const layer = h("div", {class: "backdrop", onclick: (e) => { if (e.target === layer) close(); }},
      h("div", {class: "modal file-viewer", "data-testid": "file-viewer", role: "dialog"},
        h("div", {class: "modal-header"}, h("h2", {}, file.title || file.name),
          h("button", {type: "button", class: "icon-button", onclick: close, "aria-label": "Close"}, "×")),
        h("div", {class: "modal-body"}, h("pre", {}, text))));
    document.body.append(layer);
  }

  function reactionsRow(channel, message) {
    if (message.ephemeral || !message.reactions || !message.reactions.length) return null;
    return h("div", {class: "reactions"}, message.reactions.map((r) => {
      const mine = r.users.includes(store.me);
      const who = r.users.map(userName).join(", ");
      return h("button", {type: "button", class: `reaction${mine ? " mine" : ""}`, title: `${who} reacted with :${r.name}:`,
        "data-testid": `reaction-${r.name}`, "data-count": r.count,
        onclick: () => react(channel, message, r.name)}, `${EMOJI[r.name] || ":" + r.name + ":"} ${r.count}`);
    }));
  }

  function react(channel, message, name) {
    return api("reaction", {user: store.me, channel: channel.id, message_ts: message.ts, name});
  }

  function hoverMenu(channel, message, where) {
    const menu = h("div", {class: "hover-menu", "data-testid": "message-menu"});
    menu.append(
      h("button", {type: "button", title: "Add reaction", "data-testid": "add-reaction",
        onclick: (e) => popover(e.currentTarget, REACTIONS.map(([name, emoji]) => ({
          label: emoji, testid: `pick-${name}`, title: `:${name}:`, run: () => react(channel, message, name)})), "emoji")}, "😀"),
      where === "main" ? h("button", {type: "button", title: "Reply in thread", "data-testid": "reply-in-thread",
        onclick: () => openSide({kind: "thread", ts: message.thread_ts || message.ts})}, "💬") : null,
      h("button", {type: "button", title: "More actions", "data-testid": "more-actions",
        onclick: (e) => popover(e.currentTarget, (store.state.shortcuts || []).map((s) => ({
          label: s.name, testid: `shortcut-${s.callback_id}`,
          run: () => api("shortcut", {user: store.me, channel: channel.id, message_ts: message.ts, callback_id: s.callback_id}),
        })))}, "⋮"));
    return menu;
  }

  return {renderMessages, messageNode};
})();
