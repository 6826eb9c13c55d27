// What a reader would see wrong on the loaded page; evaluated by tools/browser_check.
// `__PHASE__` is replaced by "look" (the page as loaded) or "open" (every <details> opened,
// then code blocks measured). Returns a JSON-able object.
(async function (phase) {
  const settle = (promise, ms) => Promise.race([promise, new Promise((r) => setTimeout(r, ms))]);
  const SKIP_TEX = "script, style, noscript, template, textarea, pre, code, kbd, samp, " +
                   "mjx-container, .highlight";
  const textNodes = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.trim() && !node.parentElement.closest("script, style, noscript, template")) {
        nodes.push(node);
      }
    }
    return nodes;
  };
  const around = (text, index) => text.slice(Math.max(0, index - 30), index + 40).replace(/\s+/g, " ");

  if (phase === "open") {
    for (const details of document.querySelectorAll("details")) { details.open = true; }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const canvas = document.createElement("canvas").getContext("2d");
    const overflow = [];
    for (const pre of document.querySelectorAll("pre")) {
      if (!pre.getClientRects().length || pre.scrollWidth <= pre.clientWidth + 1) { continue; }
      const style = getComputedStyle(pre);
      canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const lines = pre.textContent.split("\n");
      const longest = lines.reduce((a, b) => (canvas.measureText(b).width > canvas.measureText(a).width ? b : a), "");
      const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
      overflow.push({
        where: pre.closest(".cell_input") ? "code" : (pre.closest(".cell_output") ? "output" : "block"),
        line: longest.slice(0, 80), length: longest.length,
        fits: Math.floor((pre.clientWidth - padding) / canvas.measureText("0").width),
        lines: lines.filter((l) => canvas.measureText(l).width > pre.clientWidth - padding).length,
      });
    }
    return {overflow};
  }

  // ---- phase "look": wait until the page is drawn, then inspect it
  for (const img of document.images) { img.loading = "eager"; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await settle(MathJax.startup.promise, 20000);
  }
  await settle(document.fonts.ready, 10000);
  await settle(Promise.all(Array.from(document.images, (img) => img.decode().catch(() => null))), 15000);
  await settle(document.fonts.ready, 10000);

  // TeX source left in the text: delimiters, or a macro between dollar signs
  const tex = [];
  const TEX = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\$[^$\s][^$]*?\\[A-Za-z]+[^$]*?\$/;
  for (const node of textNodes(document.body)) {
    if (node.parentElement.closest(SKIP_TEX)) { continue; }
    const match = TEX.exec(node.nodeValue);
    if (match) { tex.push(around(node.nodeValue, match.index)); }
  }
  const untypeset = Array.from(document.querySelectorAll(".math"))
    .filter((el) => !el.querySelector("mjx-container") && !el.closest("mjx-container"))
    .map((el) => el.textContent.trim().slice(0, 60));
  const mathErrors = Array.from(document.querySelectorAll("mjx-merror, [data-mjx-error]"),
    (el) => (el.getAttribute("data-mjx-error") || el.textContent).slice(0, 80));

  const images = Array.from(document.images)
    .filter((img) => !(img.complete && img.naturalWidth > 0))
    .map((img) => img.getAttribute("src") || "");

  // Missing glyphs: a character drawn exactly like an unassigned code point is a box (tofu)
  const glyphs = [];
  const ctx = Object.assign(document.createElement("canvas"), {width: 56, height: 56})
    .getContext("2d", {willReadFrequently: true});
  const draw = (ch) => {
    ctx.clearRect(0, 0, 56, 56);
    ctx.fillText(ch, 8, 40);
    return ctx.getImageData(0, 0, 56, 56).data;
  };
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const NOT_A_GLYPH = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{M}\p{Z}]/u;
  const charsByFont = new Map();
  for (const node of textNodes(document.documentElement)) {
    const style = getComputedStyle(node.parentElement);
    const font = `${style.fontStyle} ${style.fontWeight} 32px ${style.fontFamily}`;
    if (!charsByFont.has(font)) { charsByFont.set(font, new Set()); }
    const chars = charsByFont.get(font);
    for (const ch of node.nodeValue) { if (!NOT_A_GLYPH.test(ch)) { chars.add(ch); } }
  }
  let undecided = 0;
  for (const [font, chars] of charsByFont) {
    ctx.font = font;
    const box = draw("\u0378");  // unassigned: no font has it, so this is the "missing" box
    if (!same(box, draw("\u0379")) || box.every((v) => v === 0)) { undecided += 1; continue; }
    const missing = Array.from(chars).filter((ch) => same(draw(ch), box));
    if (missing.length) {
      glyphs.push({font: font.replace("32px ", ""), chars: missing.slice(0, 20).join(""),
                   count: missing.length});
    }
  }

  const pageOverflow = document.documentElement.scrollWidth > window.innerWidth + 1;
  return {tex: tex.slice(0, 5), texCount: tex.length, untypeset: untypeset.slice(0, 5),
          untypesetCount: untypeset.length, mathErrors, images, glyphs, undecided,
          pageOverflow, mathjax: Boolean(window.MathJax && MathJax.version)};
})("__PHASE__")
