// Printing: every page's default image (the rendering the server pre-converts and the browser has
// often cached) in a print-only container, loaded a few at a time, then the browser's print dialog.

const MAX_LOADING = 4;
const CONFIRM_ABOVE = 100;

export async function printDocument({ api, count, status, container }) {
  if (!count) return false;
  if (count > CONFIRM_ABOVE && !window.confirm(`Print all ${count} pages? They are loaded first.`)) return false;
  container.replaceChildren();
  const urls = [];
  let next = 0;
  let done = 0;
  const loadOne = async () => {
    while (next < count) {
      const n = next++;
      const response = await api.fetch(api.pageUrl(n));
      const url = URL.createObjectURL(await response.blob());
      urls.push(url);
      const image = new Image();
      image.className = "pm-print-page";
      image.alt = `Page ${n + 1}`;
      image.src = url;
      await image.decode();
      image.dataset.page = String(n);
      container.append(image);
      done++;
      status.say(`Preparing ${done} of ${count} pages for printing…`, { sticky: true });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(MAX_LOADING, count) }, loadOne));
  } catch (exc) {
    status.say(`Printing failed: ${exc.message}`);
    urls.forEach((url) => URL.revokeObjectURL(url));
    container.replaceChildren();
    return false;
  }
  // pages arrive out of order: put them in order
  [...container.children]
    .sort((a, b) => Number(a.dataset.page) - Number(b.dataset.page))
    .forEach((image) => container.append(image));
  status.say("");
  const cleanup = () => {
    urls.forEach((url) => URL.revokeObjectURL(url));
    container.replaceChildren();
    document.body.classList.remove("pm-printing");
  };
  document.body.classList.add("pm-printing");
  window.addEventListener("afterprint", cleanup, { once: true });
  window.print();
  return true;
}
