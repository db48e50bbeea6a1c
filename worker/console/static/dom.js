// Building the page. Text from the gateway or a model is only ever set as text (textContent), never
// parsed as markup: an answer holding <script> or <img onerror> shows up as those characters.

export const $ = (selector) => document.querySelector(selector);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);  // strings become text nodes
  }
  return node;
}

export function row(...cells) {
  return el("tr", {}, ...cells.map((cell) => (cell instanceof Node ? el("td", {}, cell) : el("td", { text: String(cell ?? "") }))));
}

export function say(selector, message) {
  $(selector).textContent = message || "";
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;  // no clipboard (an insecure origin, or permission refused): the text stays on the page
  }
}
