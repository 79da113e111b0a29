// Accessibility checks run inside the page by the browser tests (test/ui/browser.ts reads this file
// and evaluates it there; plain JavaScript, as it runs in the browser, not in Node).
({
  // Form controls without a label (<label>, aria-label, aria-labelledby, or a button's own text).
  unlabelled() {
    return Array.from(document.querySelectorAll('input, select, textarea, button'))
      .filter((el) => !(el instanceof HTMLInputElement && el.type === 'hidden'))
      .filter((el) => {
        const labelled = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
        const text = el instanceof HTMLButtonElement ? el.textContent.trim() : '';
        return !labelled && !text;
      })
      .map((el) => el.outerHTML.slice(0, 80));
  },
  // Visible elements with text of their own whose colour has a WCAG contrast ratio below 4.5:1
  // against the background they sit on (the nearest ancestor with an opaque background).
  lowContrast() {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r = 0, g = 0, b = 0]) => {
      const f = (v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c[3] === undefined || c[3] > 0.9)) return c;
      }
      return [255, 255, 255];
    };
    const bad = [];
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const own = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
      const style = getComputedStyle(el);
      if (!own || style.visibility === 'hidden' || style.display === 'none' || el.getClientRects().length === 0) continue;
      const a = lum(rgb(style.color));
      const b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) bad.push(`${el.tagName.toLowerCase()}.${el.className}: ${ratio.toFixed(2)} "${el.textContent.trim().slice(0, 30)}"`);
    }
    return bad;
  },
})
