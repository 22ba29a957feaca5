/* DOM and formatting helpers for the sandbox page, shared by every other script: building
 * elements safely, toasts, timestamps, and the one open popover menu.
 *
 * Text goes into the page only as text nodes and attribute values (never innerHTML), and only
 * absolute http(s) and mailto URLs become links or images.
 */
window.SandboxDom = (() => {
  "use strict";

  const $ = (id) => document.getElementById(id);

  // --- DOM helpers ----------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // Only absolute http(s) and mailto URLs become links or images: never javascript:, data: or a
  // path that would resolve against this page.
  function safeUrl(url) {
    if (!/^(https?:\/\/|mailto:)/i.test(String(url))) return null;
    try {
      const parsed = new URL(String(url), document.baseURI);
      return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
    } catch {
      return null;
    }
  }

  const MAX_TOASTS = 3; // their lane takes room from the message list, so only the latest few

  function toast(text, kind = "info", ms = 6000) {
    const node = h("div", {class: `toast ${kind}`, role: "status", "data-testid": `toast-${kind}`}, text);
    const lane = $("toasts");
    lane.append(node);
    while (lane.childElementCount > MAX_TOASTS) lane.firstElementChild.remove();
    setTimeout(() => node.remove(), ms);
  }

  function tsKey(ts) {
    const [whole, frac = ""] = String(ts || "0").split(".");
    return whole.padStart(12, "0") + "." + frac.padEnd(6, "0");
  }
  const byTs = (a, b) => (tsKey(a.ts) < tsKey(b.ts) ? -1 : tsKey(a.ts) > tsKey(b.ts) ? 1 : 0);

  function formatTime(ts, withSeconds = false) {
    const when = new Date(Number(String(ts).split(".")[0]) * 1000);
    const options = {hour: "2-digit", minute: "2-digit", ...(withSeconds ? {second: "2-digit"} : {})};
    return when.toLocaleTimeString([], options);
  }

  // --- popover menus ------------------------------------------------------------------------------------

  let openPopover = null;

  function closePopover() {
    if (!openPopover) return;
    const menu = openPopover.anchor.closest(".hover-menu");
    if (menu) menu.classList.remove("open");
    openPopover.remove();
    openPopover = null;
  }

  function popover(anchor, items, kind = "") {
    closePopover();
    const node = h("div", {class: `popover ${kind}`, role: "menu", "data-testid": "popover"},
      items.map((item) => h("button", {type: "button", role: "menuitem", title: item.title || null,
        "data-testid": item.testid || null, "data-value": item.value ?? null,
        onclick: (e) => { e.stopPropagation(); closePopover(); item.run(); }}, item.label)));
    document.body.append(node);
    // A message's hover menu stays up while its menu is open (and has a size to measure).
    const menu = anchor.closest(".hover-menu");
    if (menu) menu.classList.add("open");
    const box = anchor.getBoundingClientRect();
    const width = node.offsetWidth, height = node.offsetHeight;
    node.style.left = `${Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8))}px`;
    node.style.top = `${box.bottom + height + 8 > window.innerHeight ? Math.max(8, box.top - height - 4) : box.bottom + 4}px`;
    node.anchor = anchor;
    openPopover = node;
  }

  // One listener for the page: a click outside the open menu (and not on what opened it) closes it.
  document.addEventListener("click", (e) => {
    if (openPopover && !openPopover.contains(e.target) && !openPopover.anchor.contains(e.target)) closePopover();
  });


  return {$, h, safeUrl, toast, tsKey, byTs, formatTime, popover, closePopover};
})();
