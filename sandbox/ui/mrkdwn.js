/* Slack's mrkdwn as safe DOM: emphasis, code, quotes, mentions, channels, dates and links, and
 * Block Kit text objects. Names for ids come from the directory in SandboxClient.
 */
window.SandboxMrkdwn = (() => {
  "use strict";

  const {h, safeUrl} = SandboxDom;
  const {store, userName, selectChannel} = SandboxClient;

  // The reactions the message menu offers, and every emoji the page shows by name.
  const REACTIONS = [["pushpin", "📌"], ["eyes", "👀"], ["white_check_mark", "✅"], ["+1", "👍"],
    ["tada", "🎉"], ["fire", "🔥"], ["rotating_light", "🚨"], ["heart", "❤️"]];
  const EMOJI = Object.fromEntries([...REACTIONS,
    ["thumbsup", "👍"], ["-1", "👎"], ["thumbsdown", "👎"], ["x", "❌"], ["warning", "⚠️"], ["rocket", "🚀"],
    ["heavy_check_mark", "✔️"], ["hourglass", "⌛"], ["hourglass_flowing_sand", "⏳"], ["memo", "📝"],
    ["mag", "🔍"], ["bar_chart", "📊"], ["chart_with_upwards_trend", "📈"], ["red_circle", "🔴"],
    ["large_green_circle", "🟢"], ["large_yellow_circle", "🟡"], ["bell", "🔔"], ["pager", "📟"],
    ["wrench", "🔧"], ["robot_face", "🤖"], ["file_folder", "📁"], ["clipboard", "📋"], ["stop_sign", "🛑"],
    ["white_circle", "⚪"], ["arrow_right", "➡️"], ["smile", "😄"], ["slightly_smiling_face", "🙂"]]);

  const decode = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const emojify = (s) => s.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
  // Placeholders stand in for code spans and <...> tokens while emphasis is parsed; they use
  // private-use characters, which are stripped from the input first so text cannot forge one.
  const PH_OPEN = "\uE000", PH_CLOSE = "\uE001";
  const PLACEHOLDER = /\uE000(\d+)\uE001/g;
  const EMPHASIS = /(^|[^\p{L}\p{N}])([*_~])(?!\s)((?:(?!\2).)+?)(?<!\s)\2(?![\p{L}\p{N}])/u;
  const EMPHASIS_TAG = {"*": "strong", "_": "em", "~": "del"};

  function formatDate(epoch, format) {
    const when = new Date(Number(epoch) * 1000);
    const date = when.toLocaleDateString([], {year: "numeric", month: "long", day: "numeric"});
    const short = when.toLocaleDateString([], {month: "short", day: "numeric", year: "numeric"});
    const time = when.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
    const tokens = {date_num: when.toISOString().slice(0, 10), date: date, date_short: short, date_long: date,
      date_pretty: date, date_short_pretty: short, date_long_pretty: date, time: time,
      time_secs: when.toLocaleTimeString(), ago: time};
    return format.replace(/\{(\w+)\}/g, (whole, name) => tokens[name] || whole);
  }

  // One <...> token: a mention, a channel, a group, a date or a link.
  function angleToken(body) {
    const bar = body.indexOf("|");
    const target = bar < 0 ? body : body.slice(0, bar);
    const label = bar < 0 ? "" : decode(body.slice(bar + 1));
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return h("span", {class: "mention", "data-user": id}, "@" + (store.dir.users.has(id) ? userName(id) : label || id));
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const channel = store.dir.channels.get(id);
      return h("span", {class: "channel-link", onclick: () => selectChannel(id)}, "#" + (label || (channel ? channel.name : id)));
    }
    if (target.startsWith("!subteam^")) {
      const group = store.dir.groups.get(target.slice(9));
      const name = group ? "@" + group.handle : (label || "@" + target.slice(9));
      return h("span", {class: "mention"}, name.startsWith("@") ? name : "@" + name);
    }
    if (target.startsWith("!date^")) {
      const [, epoch, format = "{date_short} {time}"] = target.split("^");
      const iso = Number.isFinite(Number(epoch)) ? new Date(Number(epoch) * 1000).toISOString() : "";
      return h("span", {class: "date", title: iso}, label || formatDate(epoch, format));
    }
    if (["!here", "!channel", "!everyone"].includes(target)) return h("span", {class: "mention"}, "@" + target.slice(1));
    const href = safeUrl(decode(target));
    if (href) return h("a", {href, target: "_blank", rel: "noopener noreferrer"}, label || decode(target));
    return document.createTextNode("<" + decode(body) + ">");
  }

  function inline(text, tokens) {
    const nodes = [];
    let rest = text;
    for (;;) {
      const match = EMPHASIS.exec(rest);
      if (!match) break;
      nodes.push(...expand(rest.slice(0, match.index) + match[1], tokens));
      nodes.push(h(EMPHASIS_TAG[match[2]], {}, inline(match[3], tokens)));
      rest = rest.slice(match.index + match[0].length);
    }
    nodes.push(...expand(rest, tokens));
    return nodes;
  }

  function expand(text, tokens) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(PLACEHOLDER)) {
      if (match.index > last) nodes.push(document.createTextNode(emojify(text.slice(last, match.index))));
      const token = tokens[Number(match[1])];
      nodes.push(token ? token() : document.createTextNode(""));
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(document.createTextNode(emojify(text.slice(last))));
    return nodes;
  }

  function inlineLine(line) {
    const tokens = [];
    const hold = (make) => { tokens.push(make); return PH_OPEN + (tokens.length - 1) + PH_CLOSE; };
    let held = line.replace(/`([^`\n]+)`/g, (whole, code) => hold(() => h("code", {}, decode(code))));
    held = held.replace(/<([^<>\n]+)>/g, (whole, body) => hold(() => angleToken(body)));
    return inline(decode(held), tokens);
  }

  function mrkdwn(source) {
    const root = h("div", {class: "mrkdwn"});
    const text = String(source || "").replace(/[\uE000\uE001]/g, "");
    const parts = text.split(/```/);
    parts.forEach((part, index) => {
      if (index % 2 === 1 && index < parts.length - 1) {
        root.append(h("pre", {}, decode(part.replace(/^\n/, ""))));
        return;
      }
      if (index % 2 === 1) part = "```" + part; // an unclosed fence is just text
      let quote = null;
      const lines = part.split("\n");
      lines.forEach((line, n) => {
        const quoted = /^(&gt;|>)\s?/.exec(line);
        if (quoted) {
          if (!quote) { quote = h("blockquote"); root.append(quote); }
          if (quote.childNodes.length) quote.append(h("br"));
          quote.append(...inlineLine(line.slice(quoted[0].length)));
          return;
        }
        quote = null;
        if (n > 0 && root.lastChild && root.lastChild.nodeName !== "PRE" && root.lastChild.nodeName !== "BLOCKQUOTE") root.append(h("br"));
        root.append(...inlineLine(line));
      });
    });
    return root;
  }

  function textObject(obj) {
    if (!obj) return document.createTextNode("");
    if (obj.type === "mrkdwn") return mrkdwn(obj.text);
    return h("span", {class: "plain"}, obj.emoji === false ? obj.text || "" : emojify(String(obj.text || "")));
  }
  const plain = (obj) => (obj && typeof obj.text === "string" ? obj.text : "");

  return {mrkdwn, textObject, plain, emojify, EMOJI, REACTIONS};
})();
