// A sortable table for result CSVs (options chains): click or press Enter on a column
// header to sort by it; again to reverse. Long fractions are shown rounded.

import { h } from "./ui.js";
import { numeric } from "./csv.js";

const MAX_ROWS = 1000;

/** A cell as shown: fractional numbers rounded for reading (the file keeps every digit). */
function shown(cell) {
  if (!/^-?\d+\.\d{5,}(e-?\d+)?$/i.test(cell)) return cell;
  const n = Number(cell);
  return Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(4);
}

export function sortableTable({ header, rows }, label) {
  let sortColumn = -1;
  let descending = false;
  const body = h("tbody", {});
  const heads = header.map((name, index) =>
    h("th", { scope: "col", "aria-sort": "none" }, h("button", { type: "button", class: "sort", onclick: () => sortBy(index) }, name)),
  );
  const caption = h("caption", {}, rows.length > MAX_ROWS ? `${label}: first ${MAX_ROWS} of ${rows.length} rows` : `${label}: ${rows.length} rows`);
  const draw = () => {
    body.replaceChildren(
      ...rows.slice(0, MAX_ROWS).map((row) => h("tr", {}, row.map((cell, i) => h("td", { "data-label": header[i], title: cell }, shown(cell))))),
    );
  };
  const sortBy = (index) => {
    descending = sortColumn === index ? !descending : false;
    sortColumn = index;
    const allNumeric = rows.every((r) => r[index] === "" || numeric(r[index]) !== null);
    rows.sort((a, b) => {
      const order = allNumeric ? (numeric(a[index]) ?? -Infinity) - (numeric(b[index]) ?? -Infinity) : String(a[index]).localeCompare(String(b[index]));
      return descending ? -order : order;
    });
    heads.forEach((th, i) => th.setAttribute("aria-sort", i === index ? (descending ? "descending" : "ascending") : "none"));
    draw();
  };
  draw();
  return h("div", { class: "scroll" }, h("table", { class: "data result" }, caption, h("thead", {}, h("tr", {}, heads)), body));
}
