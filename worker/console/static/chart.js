// A bar chart drawn on a canvas: no chart library, nothing fetched from elsewhere.
// A canvas is only pixels to a screen reader: its label is rewritten with the figures it shows.

export function barChart(canvas, labels, values, format = (v) => String(v)) {
  const title = canvas.dataset.title || (canvas.dataset.title = canvas.getAttribute("aria-label") || "Chart");
  const figures = values.map((value, i) => `${labels[i]}: ${format(value)}`).join("; ");
  canvas.setAttribute("aria-label", `${title}. ${figures || "No usage in this range yet."}`);
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  const styles = getComputedStyle(canvas);
  const ink = styles.color || "#222";
  const bar = styles.getPropertyValue("--bar").trim() || "#3a6ea5";
  context.clearRect(0, 0, width, height);
  context.font = "12px sans-serif";
  context.fillStyle = ink;
  if (!values.length) {
    context.fillText("No usage in this range yet.", 12, height / 2);
    return;
  }
  const top = Math.max(...values, 0) || 1;
  const left = 8, bottom = height - 28, chartTop = 18;
  const slot = (width - left * 2) / values.length;
  const barWidth = Math.max(2, Math.min(48, slot * 0.7));
  values.forEach((value, i) => {
    const x = left + i * slot + (slot - barWidth) / 2;
    const h = ((bottom - chartTop) * value) / top;
    context.fillStyle = bar;
    context.fillRect(x, bottom - h, barWidth, h);
    context.fillStyle = ink;
    context.fillText(format(value), x, bottom - h - 4, slot);
    context.fillText(String(labels[i]).slice(0, 16), x, height - 10, slot);
  });
}
