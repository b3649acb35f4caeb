// Checks the dashboard's hand-written QR encoder: its matrices, drawn to pixels, must
// decode (with the independent jsQR reader) to the encoded text, for every mask and for
// lengths spanning small to large versions.

import jsQR from "jsqr";
import { qrMatrix } from "../../dashboard/js/qr.js";

function decode(matrix) {
  const scale = 4;
  const quiet = 4;
  const n = (matrix.length + 2 * quiet) * scale;
  const pixels = new Uint8ClampedArray(n * n * 4).fill(255);
  matrix.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let dy = 0; dy < scale; dy++)
        for (let dx = 0; dx < scale; dx++) {
          const i = (((y + quiet) * scale + dy) * n + (x + quiet) * scale + dx) * 4;
          pixels[i] = pixels[i + 1] = pixels[i + 2] = 0;
        }
    }),
  );
  const found = jsQR(pixels, n, n);
  return found && found.data;
}

export function checkQrEncoder() {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".repeat(40);
  for (const length of [1, 16, 32, 64, 100, 160, 250, 400, 900]) {
    const text = `otpauth://totp/Fairlane:a%40b.c?secret=${alphabet.slice(0, length)}&issuer=Fairlane`;
    for (const mask of [undefined, 0, 1, 2, 3, 4, 5, 6, 7]) {
      const got = decode(qrMatrix(text, mask));
      if (got !== text) throw new Error(`length ${length}, mask ${mask}: decoded ${JSON.stringify(got)}`);
    }
  }
}
