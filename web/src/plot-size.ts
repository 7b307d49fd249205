/**
 * Plots drawn to the width of their box: Observable Plot draws at a fixed width in pixels, so a plot made at
 * a constant width fills a wide box only in part (and a narrow one is scaled down, text and all).
 */

/** Narrower than this, a plot's axes and legend no longer fit: the box scrolls instead. */
const MIN_WIDTH = 360;

/** The content width of `box` (its padding left out), or `fallback` while it is not laid out. */
export function plotWidth(box: HTMLElement, fallback = 760): number {
  const style = getComputedStyle(box);
  const width = box.clientWidth - parseFloat(style.paddingLeft || '0') - parseFloat(style.paddingRight || '0');
  return Number.isFinite(width) && width > 0 ? Math.max(MIN_WIDTH, Math.floor(width)) : fallback;
}

/**
 * Calls `redraw` once a frame at most whenever the width of `box` changes (a window resized, a sidebar
 * opened), while `box` is in the document; the observer ends when the box leaves it.
 */
export function redrawOnResize(box: HTMLElement, redraw: () => void): void {
  let width = box.clientWidth;
  let frame = 0;
  const observer = new ResizeObserver(() => {
    if (!box.isConnected) return observer.disconnect();
    if (box.clientWidth === width) return;
    width = box.clientWidth;
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(redraw);
  });
  observer.observe(box);
}
