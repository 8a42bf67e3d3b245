/**
 * The kernel logo (shown by JupyterLab's launcher and kernel picker): four expert blocks in a 2×2
 * grid, the public expert plus three owner experts, in our palette. Drawn in code so the repo holds
 * no binary files: an SVG for JupyterLab (logo-svg.svg) and PNGs for the classic notebook
 * (logo-32x32.png, logo-64x64.png) from a minimal PNG encoder.
 */
import { deflateSync } from "node:zlib";

const BLOCKS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"] as const;

/** Where each block sits, as fractions of the icon size: [x, y] of its top-left corner. */
const LAYOUT: [number, number][] = [
  [0.06, 0.06],
  [0.53, 0.06],
  [0.06, 0.53],
  [0.53, 0.53],
];
const BLOCK = 0.41;
const RADIUS = 0.08;

export function logoSvg(): string {
  const rects = LAYOUT.map(
    ([x, y], i) => `<rect x="${x * 64}" y="${y * 64}" width="${BLOCK * 64}" height="${BLOCK * 64}" rx="${RADIUS * 64}" fill="${BLOCKS[i]}"/>`,
  ).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">${rects}</svg>\n`;
}

// ---- minimal PNG (RGBA, 8 bit, no interlace): https://www.w3.org/TR/png/ -------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Encode RGBA pixels (row-major, 4 bytes per pixel) as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  if (rgba.length !== width * height * 4) throw new Error(`encodePng: expected ${width * height * 4} bytes of RGBA, got ${rgba.length}.`);
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter type 0 (None) for every scanline
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array(0))]);
}

/** The logo rasterised at `size` px, 4×4 supersampled so the rounded corners are smooth. */
export function logoPng(size: number): Buffer {
  const px = new Uint8Array(size * size * 4);
  const ss = 4;
  const r = RADIUS * size;
  const inside = (x: number, y: number, bx: number, by: number, s: number) => {
    if (x < bx || y < by || x > bx + s || y > by + s) return false;
    const cx = Math.min(Math.max(x, bx + r), bx + s - r);
    const cy = Math.min(Math.max(y, by + r), by + s - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const fx = x + (sx + 0.5) / ss;
          const fy = y + (sy + 0.5) / ss;
          LAYOUT.forEach(([bx, by], i) => {
            if (!inside(fx, fy, bx * size, by * size, BLOCK * size)) return;
            const hex = parseInt(BLOCKS[i].slice(1), 16);
            acc[0] += (hex >> 16) & 255;
            acc[1] += (hex >> 8) & 255;
            acc[2] += hex & 255;
            acc[3] += 255;
          });
        }
      }
      const covered = acc[3] / 255;
      const o = (y * size + x) * 4;
      if (covered > 0) {
        // Colour = mean over covered samples; alpha = coverage.
        px[o] = Math.round(acc[0] / covered);
        px[o + 1] = Math.round(acc[1] / covered);
        px[o + 2] = Math.round(acc[2] / covered);
        px[o + 3] = Math.round(acc[3] / (ss * ss));
      }
    }
  }
  return encodePng(size, size, px);
}
