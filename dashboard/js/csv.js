// A small RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF or LF.

/** Parses CSV text into `{header: [name], rows: [[cell]]}`. */
export function parseCsv(text) {
  const records = [];
  let record = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || record.length) {
    record.push(cell);
    records.push(record);
  }
  const nonEmpty = records.filter((r) => r.length > 1 || r[0] !== "");
  const [header = [], ...rows] = nonEmpty;
  return { header: header.map((s) => s.trim()), rows };
}

/** The value as a number when the whole cell is numeric, else null. */
export function numeric(cell) {
  if (cell === undefined || cell === null || String(cell).trim() === "") return null;
  const n = Number(cell);
  return Number.isFinite(n) ? n : null;
}
