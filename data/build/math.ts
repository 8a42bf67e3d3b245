/**
 * math ← our own seeded generator of worked problems (mulberry32; same seed ⇒ same corpus).
 * FlexMix's math sets mix real and synthetic problem/solution text; we cannot ship real math
 * prose here, so the domain is synthetic and labelled as such (license CC0-1.0, ours).
 *
 * Compared with the data study's 18 templates this has 35 training families, each with several
 * phrasings, three notations (LaTeX, plain ASCII, words) and varied worksheet/problem/solution
 * labels, plus multi-step word-problem narratives. That lowers (does not remove) the template
 * leakage the study measured (99.6 % of held-out worksheets shared a 13-gram with train).
 *
 * One family, `distance-rate-time` (multi-leg journeys, average speed, meeting times), is held
 * out: it never appears in training or validation worksheets, only in `heldOut` worksheets that
 * the build forces into the test split (family column `heldout-distance-rate-time`). It tests
 * whether a math expert generalises to a new problem type built from skills it has seen.
 *
 * Every answer is computed, not written by hand; the numbers are chosen so results are exact
 * (integers or reduced fractions) and the worked steps print the intermediate values.
 */
import { mulberry32 } from "./util";

export type Notation = "latex" | "plain" | "words";

/** Random helpers bound to one PRNG stream. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Non-zero integer in [lo, hi]. */
  nz(lo: number, hi: number): number {
    for (;;) {
      const v = this.int(lo, hi);
      if (v !== 0) return v;
    }
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** k distinct items, in random order. */
  sample<T>(xs: readonly T[], k: number): T[] {
    const a = xs.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a.slice(0, k);
  }
}

export interface Problem {
  statement: string;
  solution: string;
}

/** What a family generator gets: randomness and the notation for this problem. */
export interface Ctx {
  r: Rng;
  n: Notation;
}

export type Family = (c: Ctx) => Problem;

// ---------------------------------------------------------------------------------------------
// Formatting helpers

export function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

const ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/** English words for integers |n| < 1e6 (e.g. 342 → "three hundred forty-two"). */
export function numberWords(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) >= 1e6) return String(n);
  if (n < 0) return `minus ${numberWords(-n)}`;
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? `-${ONES[n % 10]}` : "");
  if (n < 1000) return `${ONES[Math.floor(n / 100)]} hundred${n % 100 ? ` ${numberWords(n % 100)}` : ""}`;
  return `${numberWords(Math.floor(n / 1000))} thousand${n % 1000 ? ` ${numberWords(n % 1000)}` : ""}`;
}

/** A number as digits, or as words in the "words" notation when small. */
function num(c: Ctx, v: number): string {
  return c.n === "words" && Number.isInteger(v) && Math.abs(v) <= 100 ? numberWords(v) : String(v);
}

/** Inline math: $…$ in LaTeX notation, bare otherwise. */
function m(c: Ctx, latex: string, plain: string, words?: string): string {
  if (c.n === "latex") return `$${latex}$`;
  if (c.n === "words" && words !== undefined) return words;
  return plain;
}

function frac(c: Ctx, p: number, q: number): string {
  if (q < 0) [p, q] = [-p, -q];
  if (q === 1) return String(p);
  return c.n === "latex" ? `\\frac{${p}}{${q}}` : `${p}/${q}`;
}

/** Reduced fraction p/q as text (LaTeX body or plain). */
function rfrac(c: Ctx, p: number, q: number): string {
  const g = gcd(p, q) || 1;
  return frac(c, p / g, q / g);
}

function times(c: Ctx): string {
  return c.n === "latex" ? " \\times " : c.n === "words" ? " times " : " * ";
}

/** a*x^k terms of a polynomial (coefficients high → low) as text. */
function poly(c: Ctx, coeffs: readonly number[], v = "x"): string {
  const deg = coeffs.length - 1;
  const parts: string[] = [];
  coeffs.forEach((a, i) => {
    const k = deg - i;
    if (a === 0) return;
    const abs = Math.abs(a);
    const coef = abs === 1 && k > 0 ? "" : String(abs);
    const pow = k === 0 ? "" : k === 1 ? v : c.n === "latex" ? `${v}^{${k}}` : `${v}^${k}`;
    const sign = a < 0 ? "-" : "+";
    parts.push(parts.length === 0 ? (a < 0 ? `-${coef}${pow}` : `${coef}${pow}`) : ` ${sign} ${coef}${pow}`);
  });
  return parts.length ? parts.join("") : "0";
}

function signed(v: number): string {
  return v < 0 ? `- ${-v}` : `+ ${v}`;
}

/** Wrap a formula for display: $$…$$ on its own line in LaTeX, indented otherwise. */
function display(c: Ctx, body: string): string {
  return c.n === "latex" ? `$$${body}$$` : `    ${body}`;
}

/** 1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, 21st, … */
export function ordinal(n: number): string {
  const t = n % 100;
  const suffix = t >= 11 && t <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** A value that may not be an integer: "= 187.5" when exact to two decimals, "≈ 41.67" otherwise. */
function eqv(x: number): string {
  const r = Math.round(x * 100) / 100;
  return Math.abs(r - x) < 1e-9 ? `= ${r}` : `≈ ${x.toFixed(2)}`;
}

/** Parenthesise negative numbers inside products: 27 * (-3). */
function par(v: number): string {
  return v < 0 ? `(${v})` : String(v);
}

function money(v: number): string {
  return `$${v.toFixed(2)}`;
}

const NAMES = ["Ada", "Ben", "Chloe", "Dmitri", "Esther", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Keiko", "Luis", "Mara", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor", "Wen", "Yara", "Zoe"];
const ITEMS = [
  ["notebook", "notebooks"],
  ["pencil", "pencils"],
  ["apple", "apples"],
  ["ticket", "tickets"],
  ["marble", "marbles"],
  ["sticker", "stickers"],
  ["loaf of bread", "loaves of bread"],
  ["bag of rice", "bags of rice"],
  ["comic book", "comic books"],
  ["seed packet", "seed packets"],
] as const;

// ---------------------------------------------------------------------------------------------
// Training families (35)

const arithmetic: Family = (c) => {
  const { r } = c;
  const a = r.int(2, 40), b = r.int(2, 12), d = r.int(2, 12), e = r.int(1, 60);
  const bd = b * d;
  const total = a + bd - e;
  const expr = c.n === "latex" ? `${a} + ${b} \\times ${d} - ${e}` : c.n === "words" ? `${numberWords(a)} plus ${numberWords(b)} times ${numberWords(d)} minus ${numberWords(e)}` : `${a} + ${b} * ${d} - ${e}`;
  const q = r.pick([`Evaluate ${m(c, expr, expr, expr)}.`, `Compute the value of ${m(c, expr, expr, expr)}.`, `What is ${m(c, expr, expr, expr)}?`]);
  return {
    statement: q,
    solution: `Multiplication comes before addition and subtraction: ${num(c, b)}${times(c)}${num(c, d)} = ${num(c, bd)}. Then ${num(c, a)} + ${num(c, bd)} = ${num(c, a + bd)}, and ${num(c, a + bd)} - ${num(c, e)} = ${num(c, total)}. The answer is ${num(c, total)}.`,
  };
};

const longDivision: Family = (c) => {
  const { r } = c;
  const d = r.int(3, 19), qt = r.int(12, 250), rem = r.int(0, d - 1);
  const n = d * qt + rem;
  return {
    statement: r.pick([`Divide ${n} by ${d}, giving the quotient and remainder.`, `Use long division to find ${n} ÷ ${d}.`, `How many full groups of ${d} can be made from ${n} objects, and how many are left over?`]),
    solution: `${d}${times(c)}${qt} = ${d * qt}, and ${n} - ${d * qt} = ${rem}, which is less than ${d}. So ${n} = ${d}${times(c)}${qt} + ${rem}: the quotient is ${qt} and the remainder is ${rem}.`,
  };
};

const linearEquation: Family = (c) => {
  const { r } = c;
  const x = r.int(-12, 15), a = r.nz(-9, 9), b = r.int(-30, 30);
  const rhs = a * x + b;
  const lhs = poly(c, [a, b]);
  return {
    statement: r.pick([`Solve for x: ${m(c, `${lhs} = ${rhs}`, `${lhs} = ${rhs}`)}.`, `Find x if ${m(c, `${lhs} = ${rhs}`, `${lhs} = ${rhs}`)}.`, `Which value of x satisfies ${m(c, `${lhs} = ${rhs}`, `${lhs} = ${rhs}`)}?`]),
    solution: `${b < 0 ? `Add ${-b} to` : `Subtract ${b} from`} both sides: ${m(c, `${poly(c, [a, 0])} = ${rhs - b}`, `${poly(c, [a, 0])} = ${rhs - b}`)}. Divide by ${a}: ${m(c, `x = ${x}`, `x = ${x}`)}. Check: ${a}${times(c)}(${x}) ${signed(b)} = ${rhs}.`,
  };
};

const linearBothSides: Family = (c) => {
  const { r } = c;
  const x = r.int(-10, 12);
  let a = r.nz(-8, 9), cc = r.nz(-8, 9);
  if (a === cc) cc = a + r.pick([-2, -1, 1, 2]) || 3;
  const b = r.int(-20, 20);
  const d = a * x + b - cc * x;
  const eq = `${poly(c, [a, b])} = ${poly(c, [cc, d])}`;
  return {
    statement: r.pick([`Solve ${m(c, eq, eq)}.`, `Find the value of x that makes ${m(c, eq, eq)} true.`]),
    solution: `Collect the x terms on the left and the constants on the right: (${a} - ${cc})x = ${d} - ${b}, so ${a - cc}x = ${d - b} and x = ${(d - b) / (a - cc)}.`,
  };
};

const system2x2: Family = (c) => {
  const { r } = c;
  const x = r.int(-9, 9), y = r.int(-9, 9);
  let a = r.nz(-6, 6), b = r.nz(-6, 6), d = r.nz(-6, 6), e = r.nz(-6, 6);
  while (a * e - b * d === 0) e = r.nz(-6, 6);
  const c1 = a * x + b * y, c2 = d * x + e * y;
  const det = a * e - b * d;
  const e1 = `${poly(c, [a, 0])} ${b < 0 ? "-" : "+"} ${Math.abs(b) === 1 ? "" : Math.abs(b)}y = ${c1}`;
  const e2 = `${poly(c, [d, 0])} ${e < 0 ? "-" : "+"} ${Math.abs(e) === 1 ? "" : Math.abs(e)}y = ${c2}`;
  return {
    statement: r.pick([`Solve the system ${m(c, e1, e1)} and ${m(c, e2, e2)}.`, `Find x and y such that ${m(c, e1, e1)} and ${m(c, e2, e2)}.`]),
    solution: `By Cramer's rule the determinant is ${a}${times(c)}${e} - ${b}${times(c)}${d} = ${det}. Then x = (${c1}${times(c)}${e} - ${b}${times(c)}${c2}) / ${det} = ${(c1 * e - b * c2) / det} and y = (${a}${times(c)}${c2} - ${c1}${times(c)}${d}) / ${det} = ${(a * c2 - c1 * d) / det}. So x = ${x}, y = ${y}.`,
  };
};

const quadratic: Family = (c) => {
  const { r } = c;
  const p = r.int(-9, 9), q = r.int(-9, 9);
  const b = -(p + q), k = p * q;
  const eq = `${poly(c, [1, b, k])} = 0`;
  const roots = p === q ? `the double root x = ${p}` : `x = ${Math.min(p, q)} or x = ${Math.max(p, q)}`;
  return {
    statement: r.pick([`Solve the quadratic equation ${m(c, eq, eq)}.`, `Find the roots of ${m(c, poly(c, [1, b, k]), poly(c, [1, b, k]))}.`, `For which x is ${m(c, eq, eq)}?`]),
    solution: `We need two numbers with product ${k} and sum ${-b}: ${p} and ${q}. So ${m(c, `${poly(c, [1, b, k])} = (x ${signed(-p)})(x ${signed(-q)})`, `${poly(c, [1, b, k])} = (x ${signed(-p)})(x ${signed(-q)})`)}, giving ${roots}.`,
  };
};

const derivative: Family = (c) => {
  const { r } = c;
  const deg = r.int(2, 4);
  const co = Array.from({ length: deg + 1 }, (_, i) => (i === 0 ? r.nz(-7, 7) : r.int(-9, 9)));
  const d = co.slice(0, -1).map((a, i) => a * (deg - i));
  const f = poly(c, co), fp = poly(c, d);
  return {
    statement: r.pick([`Differentiate ${m(c, `f(x) = ${f}`, `f(x) = ${f}`)}.`, `Find the derivative of ${m(c, f, f)} with respect to x.`, `Compute ${m(c, `\\frac{d}{dx}\\left(${f}\\right)`, `d/dx (${f})`)}.`]),
    solution: `Apply the power rule term by term, d/dx x^n = n x^(n-1): ${m(c, `f'(x) = ${fp}`, `f'(x) = ${fp}`)}.`,
  };
};

const definiteIntegral: Family = (c) => {
  const { r } = c;
  // ∫_0^b (3a x^2 + 2k x) dx = a b^3 + k b^2: coefficients chosen so the result is an integer.
  const a = r.int(1, 4), k = r.int(-5, 5), b = r.int(1, 4);
  const f = poly(c, [3 * a, 2 * k, 0]);
  const val = a * b ** 3 + k * b * b;
  return {
    statement: r.pick([`Evaluate ${m(c, `\\int_0^{${b}} (${f})\\,dx`, `the integral of ${f} from 0 to ${b}`)}.`, `Find the area-with-sign under ${m(c, `y = ${f}`, `y = ${f}`)} between x = 0 and x = ${b}.`]),
    solution: `An antiderivative is ${m(c, `F(x) = ${poly(c, [a, k, 0, 0])}`, `F(x) = ${poly(c, [a, k, 0, 0])}`)}. So the integral is F(${b}) - F(0) = ${a}${times(c)}${b ** 3} ${signed(k * b * b)} - 0 = ${val}.`,
  };
};

const fractionAdd: Family = (c) => {
  const { r } = c;
  const b = r.int(2, 12), d = r.int(2, 12), a = r.int(1, b * 2), e = r.int(1, d * 2);
  const sub = r.chance(0.4);
  const l = (b * d) / gcd(b, d);
  const num1 = a * (l / b), num2 = e * (l / d);
  const res = sub ? num1 - num2 : num1 + num2;
  const op = sub ? "-" : "+";
  const expr = `${frac(c, a, b)} ${op} ${frac(c, e, d)}`;
  return {
    statement: r.pick([`Compute ${m(c, expr, expr)} and simplify.`, `Simplify ${m(c, expr, expr)}.`, `What is ${m(c, expr, expr)} in lowest terms?`]),
    solution: `The least common denominator of ${b} and ${d} is ${l}. Rewrite: ${m(c, `${frac(c, num1, l)} ${op} ${frac(c, num2, l)} = ${frac(c, res, l)}`, `${num1}/${l} ${op} ${num2}/${l} = ${res}/${l}`)}, which reduces to ${m(c, rfrac(c, res, l), rfrac(c, res, l))}.`,
  };
};

const fractionMultiply: Family = (c) => {
  const { r } = c;
  const a = r.int(1, 12), b = r.int(2, 12), d = r.int(1, 12), e = r.int(2, 12);
  const div = r.chance(0.5);
  const [pn, pd] = div ? [a * e, b * d] : [a * d, b * e];
  const expr = `${frac(c, a, b)} ${div ? (c.n === "latex" ? "\\div" : "÷") : c.n === "latex" ? "\\times" : "×"} ${frac(c, d, e)}`;
  return {
    statement: r.pick([`Compute ${m(c, expr, expr)}.`, `Simplify ${m(c, expr, expr)}.`]),
    solution: `${div ? `Dividing by ${frac(c, d, e)} means multiplying by its reciprocal ${frac(c, e, d)}. ` : ""}Multiply numerators and denominators: ${pn}/${pd}. Dividing both by their gcd ${gcd(pn, pd)} gives ${m(c, rfrac(c, pn, pd), rfrac(c, pn, pd))}.`,
  };
};

const percentOf: Family = (c) => {
  const { r } = c;
  const p = r.pick([5, 10, 12, 15, 20, 25, 30, 40, 45, 60, 75, 80]);
  const base = r.int(2, 60) * 20;
  const v = (p * base) / 100;
  return {
    statement: r.pick([`What is ${p}% of ${base}?`, `Find ${p} percent of ${base}.`, `A survey of ${base} people found that ${p}% prefer tea. How many people is that?`]),
    solution: `${p}% means ${p}/100, so the amount is ${base}${times(c)}${p}/100 = ${v}.`,
  };
};

const percentChange: Family = (c) => {
  const { r } = c;
  const old = r.int(4, 80) * 10, p = r.pick([5, 10, 15, 20, 25, 30, 40, 50]);
  const up = r.chance(0.5);
  const nw = up ? old + (old * p) / 100 : old - (old * p) / 100;
  const thing = r.pick(["The price of a bicycle", "A town's population", "The number of visitors to a museum", "A company's monthly sales"]);
  return {
    statement: r.pick([`${thing} went from ${old} to ${nw}. What was the percentage change?`, `A quantity changes from ${old} to ${nw}. By what percent did it ${up ? "increase" : "decrease"}?`]),
    solution: `The change is ${nw} - ${old} = ${nw - old}. Relative to the starting value: ${nw - old} / ${old} = ${((up ? 1 : -1) * p) / 100}, i.e. a ${p}% ${up ? "increase" : "decrease"}.`,
  };
};

const gcdLcm: Family = (c) => {
  const { r } = c;
  const g = r.int(2, 15), a = g * r.int(2, 20), b = g * r.int(2, 20);
  const steps: string[] = [];
  let x = Math.max(a, b), y = Math.min(a, b);
  while (y) {
    steps.push(`${x} = ${Math.floor(x / y)}${times(c)}${y} + ${x % y}`);
    [x, y] = [y, x % y];
  }
  const G = x, L = (a * b) / G;
  return {
    statement: r.pick([`Find the greatest common divisor and the least common multiple of ${a} and ${b}.`, `Compute gcd(${a}, ${b}) and lcm(${a}, ${b}).`]),
    solution: `Euclid's algorithm: ${steps.join("; ")}. The last non-zero remainder is ${G}, so gcd = ${G}. Then lcm = ${a}${times(c)}${b} / ${G} = ${L}.`,
  };
};

function factorize(n: number): number[] {
  const f: number[] = [];
  for (let p = 2; p * p <= n; p++) while (n % p === 0) f.push(p), (n /= p);
  if (n > 1) f.push(n);
  return f;
}

const primeFactorization: Family = (c) => {
  const { r } = c;
  const n = r.pick([2, 3, 5, 7]) * r.pick([2, 3, 5, 7, 11]) * r.pick([2, 3, 4, 5, 6, 9, 13]) * r.int(1, 6);
  const f = factorize(n);
  const counts = new Map<number, number>();
  for (const p of f) counts.set(p, (counts.get(p) ?? 0) + 1);
  const latex = [...counts].map(([p, k]) => (k > 1 ? `${p}^{${k}}` : `${p}`)).join(" \\cdot ");
  const plain = [...counts].map(([p, k]) => (k > 1 ? `${p}^${k}` : `${p}`)).join(" * ");
  return {
    statement: r.pick([`Write ${n} as a product of primes.`, `Find the prime factorization of ${n}.`]),
    solution: `Divide by the smallest prime repeatedly: ${f.join(", ")}. So ${m(c, `${n} = ${latex}`, `${n} = ${plain}`)}.`,
  };
};

const arithmeticSequence: Family = (c) => {
  const { r } = c;
  const a1 = r.int(-20, 30), d = r.nz(-7, 9), n = r.int(8, 40);
  const an = a1 + (n - 1) * d, s = (n * (a1 + an)) / 2;
  const terms = [0, 1, 2, 3].map((i) => a1 + i * d).join(", ");
  return r.chance(0.5)
    ? { statement: `The sequence ${terms}, … is arithmetic. Find its ${ordinal(n)} term.`, solution: `The common difference is ${d}. The nth term is a_n = a_1 + (n - 1)d = ${a1} + ${n - 1}${times(c)}${par(d)} = ${an}.` }
    : { statement: `Find the sum of the first ${n} terms of the arithmetic sequence ${terms}, ….`, solution: `Here d = ${d}, so the ${ordinal(n)} term is ${a1} + ${n - 1}${times(c)}${par(d)} = ${an}. The sum is n(a_1 + a_n)/2 = ${n}${times(c)}(${a1} + ${an})/2 = ${s}.` };
};

const geometricSequence: Family = (c) => {
  const { r } = c;
  const a1 = r.int(1, 6), q = r.pick([2, 3, -2, 5]), n = r.int(4, 8);
  const an = a1 * q ** (n - 1), s = (a1 * (q ** n - 1)) / (q - 1);
  const terms = [0, 1, 2].map((i) => a1 * q ** i).join(", ");
  return {
    statement: r.pick([`For the geometric sequence ${terms}, …, find the ${ordinal(n)} term and the sum of the first ${n} terms.`, `A geometric progression starts ${terms}. What are a_${n} and S_${n}?`]),
    solution: `The ratio is ${q}. a_${n} = ${a1}${times(c)}${q}^${n - 1} = ${an}. S_${n} = a_1(r^n - 1)/(r - 1) = ${a1}${times(c)}(${q ** n} - 1)/(${q - 1}) = ${s}.`,
  };
};

const areaPerimeter: Family = (c) => {
  const { r } = c;
  const kind = r.int(0, 2);
  if (kind === 0) {
    const w = r.int(2, 30), h = r.int(2, 30);
    return { statement: r.pick([`A rectangle is ${w} cm wide and ${h} cm tall. Find its area and perimeter.`, `Find the area and the perimeter of a ${w} m by ${h} m rectangular garden.`]), solution: `Area = width${times(c)}height = ${w}${times(c)}${h} = ${w * h}. Perimeter = 2(width + height) = 2(${w} + ${h}) = ${2 * (w + h)}.` };
  }
  if (kind === 1) {
    const b = r.int(2, 20) * 2, h = r.int(2, 25);
    return { statement: `A triangle has base ${b} and height ${h}. What is its area?`, solution: `Area = ${m(c, "\\frac{1}{2}bh", "(1/2) * base * height", "one half of base times height")} = ${b}${times(c)}${h}/2 = ${(b * h) / 2}.` };
  }
  const rad = r.int(1, 15);
  const area = (Math.PI * rad * rad).toFixed(2), circ = (2 * Math.PI * rad).toFixed(2);
  return { statement: r.pick([`A circle has radius ${rad}. Find its area and circumference to two decimal places.`, `What are the area and circumference of a circle of radius ${rad} cm?`]), solution: `Area = ${m(c, "\\pi r^2", "pi * r^2", "pi times r squared")} = ${rad * rad}π ≈ ${area}. Circumference = ${m(c, "2\\pi r", "2 * pi * r")} = ${2 * rad}π ≈ ${circ}.` };
};

const pythagoras: Family = (c) => {
  const { r } = c;
  const [a0, b0, h0] = r.pick([[3, 4, 5], [5, 12, 13], [8, 15, 17], [7, 24, 25], [20, 21, 29]] as const);
  const k = r.int(1, 5), a = a0 * k, b = b0 * k, h = h0 * k;
  return r.chance(0.5)
    ? { statement: r.pick([`A right triangle has legs ${a} and ${b}. How long is the hypotenuse?`, `A ladder reaches ${b} m up a wall with its foot ${a} m from the wall. How long is the ladder?`]), solution: `By Pythagoras, ${m(c, `c^2 = ${a}^2 + ${b}^2 = ${a * a} + ${b * b} = ${h * h}`, `c^2 = ${a}^2 + ${b}^2 = ${a * a} + ${b * b} = ${h * h}`)}, so c = ${h}.` }
    : { statement: `The hypotenuse of a right triangle is ${h} and one leg is ${a}. Find the other leg.`, solution: `${m(c, `b^2 = ${h}^2 - ${a}^2 = ${h * h} - ${a * a} = ${b * b}`, `b^2 = ${h}^2 - ${a}^2 = ${h * h} - ${a * a} = ${b * b}`)}, so b = ${b}.` };
};

const statistics: Family = (c) => {
  const { r } = c;
  const n = r.pick([5, 6, 7, 8]);
  const xs = Array.from({ length: n }, () => r.int(1, 40));
  const sum = xs.reduce((s, x) => s + x, 0);
  const sorted = xs.slice().sort((a, b) => a - b);
  const med = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    statement: r.pick([`Find the mean and median of ${xs.join(", ")}.`, `The scores in a quiz were ${xs.join(", ")}. What are the mean and the median score?`]),
    solution: `The sum is ${sum} over ${n} values, so the mean is ${m(c, rfrac(c, sum, n), rfrac(c, sum, n))}${sum % n ? ` ≈ ${(sum / n).toFixed(2)}` : ""}. Sorted: ${sorted.join(", ")}; the median is ${med}.`,
  };
};

const probability: Family = (c) => {
  const { r } = c;
  if (r.chance(0.5)) {
    const red = r.int(1, 9), blue = r.int(1, 9), green = r.int(0, 6);
    const t = red + blue + green;
    const col = r.pick(["red", "blue"]);
    const k = col === "red" ? red : blue;
    return { statement: `A bag holds ${num(c, red)} red, ${num(c, blue)} blue and ${num(c, green)} green marbles. One marble is drawn at random. What is the probability that it is ${col}?`, solution: `There are ${t} marbles and ${k} of them are ${col}, so the probability is ${m(c, rfrac(c, k, t), rfrac(c, k, t))}.` };
  }
  const s = r.int(3, 11);
  let ways = 0;
  for (let a = 1; a <= 6; a++) for (let b = 1; b <= 6; b++) if (a + b === s) ways++;
  return { statement: r.pick([`Two fair dice are rolled. What is the probability that the total is ${s}?`, `Find the probability of rolling a sum of ${s} with two six-sided dice.`]), solution: `Of the 36 equally likely outcomes, ${ways} give a total of ${s}, so the probability is ${m(c, rfrac(c, ways, 36), rfrac(c, ways, 36))}.` };
};

function choose(n: number, k: number): number {
  let v = 1;
  for (let i = 1; i <= k; i++) v = (v * (n - k + i)) / i;
  return Math.round(v);
}

const combinatorics: Family = (c) => {
  const { r } = c;
  const n = r.int(5, 14), k = r.int(2, Math.min(5, n - 1));
  if (r.chance(0.5)) {
    return { statement: r.pick([`In how many ways can a committee of ${k} be chosen from ${n} people?`, `Compute ${m(c, `\\binom{${n}}{${k}}`, `C(${n}, ${k})`)}.`]), solution: `Order does not matter, so we count combinations: ${m(c, `\\binom{${n}}{${k}} = \\frac{${n}!}{${k}!\\,${n - k}!}`, `C(${n}, ${k}) = ${n}! / (${k}! ${n - k}!)`)} = ${choose(n, k)}.` };
  }
  let p = 1;
  for (let i = 0; i < k; i++) p *= n - i;
  return { statement: `${k} different prizes are handed to ${k} of ${n} contestants, at most one prize each. How many outcomes are possible?`, solution: `Order matters: ${Array.from({ length: k }, (_, i) => n - i).join(times(c))} = ${p}.` };
};

const modularPower: Family = (c) => {
  const { r } = c;
  const a = r.int(2, 12), e = r.int(5, 40), mod = r.pick([7, 9, 11, 13, 17, 19, 23]);
  let res = 1, base = a % mod, ee = e;
  const sq: string[] = [];
  while (ee > 0) {
    if (ee & 1) res = (res * base) % mod;
    ee >>= 1;
    if (ee > 0) {
      const nb = (base * base) % mod;
      sq.push(`${base}^2 ≡ ${nb}`);
      base = nb;
    }
  }
  return {
    statement: r.pick([`Compute ${m(c, `${a}^{${e}} \\bmod ${mod}`, `${a}^${e} mod ${mod}`)}.`, `What is the remainder when ${a}^${e} is divided by ${mod}?`]),
    solution: `Use repeated squaring modulo ${mod} (binary exponent ${e.toString(2)}): ${sq.join(", ")}. Multiplying the squares selected by the 1-bits gives ${res}. So the remainder is ${res}.`,
  };
};

const baseConversion: Family = (c) => {
  const { r } = c;
  const n = r.int(10, 999), b = r.pick([2, 3, 5, 8, 16]);
  const digits: string[] = [];
  let x = n;
  while (x > 0) {
    digits.push(`${x} = ${Math.floor(x / b)}${times(c)}${b} + ${x % b}`);
    x = Math.floor(x / b);
  }
  return r.chance(0.7)
    ? { statement: `Convert ${n} (base 10) to base ${b}.`, solution: `Divide repeatedly by ${b} and read the remainders upward: ${digits.join("; ")}. So ${n} = ${n.toString(b).toUpperCase()} in base ${b}.` }
    : { statement: `Convert ${n.toString(b).toUpperCase()} from base ${b} to base 10.`, solution: `Expand in powers of ${b}: ${[...n.toString(b)].map((d, i, a) => `${parseInt(d, b)}${times(c)}${b}^${a.length - 1 - i}`).join(" + ")} = ${n}.` };
};

const exponentRules: Family = (c) => {
  const { r } = c;
  const a = r.int(2, 9), b = r.int(2, 9), k = r.int(2, 4);
  const res = (a + b) * k;
  return {
    statement: r.pick([`Simplify ${m(c, `(x^{${a}} \\cdot x^{${b}})^{${k}}`, `(x^${a} * x^${b})^${k}`)}.`, `Write ${m(c, `(x^{${a}} x^{${b}})^{${k}}`, `(x^${a} x^${b})^${k}`)} as a single power of x.`]),
    solution: `Multiplying powers adds exponents: x^${a} x^${b} = x^${a + b}. Raising a power to a power multiplies exponents: (x^${a + b})^${k} = ${m(c, `x^{${res}}`, `x^${res}`)}.`,
  };
};

const unitConversion: Family = (c) => {
  const { r } = c;
  const kind = r.int(0, 2);
  if (kind === 0) {
    const km = r.int(1, 40) / 4;
    return { statement: `How many metres are in ${km} km? How many centimetres?`, solution: `1 km = 1000 m, so ${km} km = ${km * 1000} m. 1 m = 100 cm, so that is ${km * 100000} cm.` };
  }
  if (kind === 1) {
    const h = r.int(1, 9), mm = r.int(1, 59);
    return { statement: `Express ${h} h ${mm} min in minutes and in seconds.`, solution: `${h} h = ${h * 60} min, plus ${mm} gives ${h * 60 + mm} min, which is ${(h * 60 + mm) * 60} s.` };
  }
  const l = r.int(1, 30) / 2;
  return { statement: `A jug holds ${l} litres. How many 250 ml glasses can it fill?`, solution: `${l} L = ${l * 1000} ml, and ${l * 1000} / 250 = ${(l * 1000) / 250} glasses.` };
};

const shopping: Family = (c) => {
  const { r } = c;
  const name = r.pick(NAMES);
  const [i1, i2] = r.sample(ITEMS, 2);
  const n1 = r.int(2, 9), p1 = r.int(1, 12) * 0.25, n2 = r.int(1, 6), p2 = r.int(2, 30) * 0.5;
  const total = n1 * p1 + n2 * p2;
  const paid = Math.ceil(total / 10) * 10 + (r.chance(0.5) ? 10 : 0);
  return {
    statement: r.pick([
      `${name} buys ${num(c, n1)} ${i1[1]} at ${money(p1)} each and ${num(c, n2)} ${n2 === 1 ? i2[0] : i2[1]} at ${money(p2)} each, paying with ${money(paid)}. How much change does ${name} get?`,
      `At the market, ${i1[1]} cost ${money(p1)} each and ${i2[1]} cost ${money(p2)} each. ${name} takes ${num(c, n1)} ${i1[1]} and ${num(c, n2)} ${n2 === 1 ? i2[0] : i2[1]} and hands over ${money(paid)}. What is the change?`,
    ]),
    solution: `Step 1: ${n1}${times(c)}${money(p1)} = ${money(n1 * p1)}. Step 2: ${n2}${times(c)}${money(p2)} = ${money(n2 * p2)}. Step 3: total ${money(total)}. Step 4: change = ${money(paid)} - ${money(total)} = ${money(paid - total)}.`,
  };
};

const sharing: Family = (c) => {
  const { r } = c;
  const [a, b] = r.sample(NAMES, 2);
  const item = r.pick(ITEMS);
  const start = r.int(20, 90), gave = r.int(2, 15), bought = r.int(3, 20), split = r.pick([2, 3, 4]);
  const afterGive = start - gave, afterBuy = afterGive + bought;
  const extra = split - (afterBuy % split);
  const final = afterBuy % split === 0 ? afterBuy : afterBuy + extra;
  return {
    statement: `${a} has ${num(c, start)} ${item[1]}. ${a} gives ${num(c, gave)} to ${b}, then buys ${num(c, bought)} more. ${a} wants to share them equally among ${num(c, split)} friends${afterBuy % split === 0 ? "" : ", buying the fewest extra needed so none are left over"}. How many does each friend get?`,
    solution: `After giving: ${start} - ${gave} = ${afterGive}. After buying: ${afterGive} + ${bought} = ${afterBuy}. ${afterBuy % split === 0 ? `${afterBuy} is divisible by ${split}` : `${afterBuy} leaves remainder ${afterBuy % split} when divided by ${split}, so ${extra} more are bought, making ${final}`}. Each friend gets ${final} / ${split} = ${final / split}.`,
  };
};

const ages: Family = (c) => {
  const { r } = c;
  const [a, b] = r.sample(NAMES, 2);
  const kid = r.int(3, 15), k = r.int(2, 4), yrs = r.int(2, 12);
  const parent = k * kid;
  return {
    statement: r.pick([
      `${a} is ${num(c, k)} times as old as ${b}. In ${num(c, yrs)} years the sum of their ages will be ${parent + kid + 2 * yrs}. How old is each now?`,
      `The sum of the ages of ${a} and ${b} will be ${parent + kid + 2 * yrs} in ${num(c, yrs)} years. Today ${a} is ${num(c, k)} times as old as ${b}. Find their ages.`,
    ]),
    solution: `Let ${b}'s age be x, so ${a} is ${k}x. In ${yrs} years: (x + ${yrs}) + (${k}x + ${yrs}) = ${parent + kid + 2 * yrs}, so ${k + 1}x = ${parent + kid}, x = ${kid}. ${b} is ${kid} and ${a} is ${parent}.`,
  };
};

const recipeScaling: Family = (c) => {
  const { r } = c;
  const serves = r.pick([2, 4, 6]), want = r.pick([3, 5, 8, 9, 10, 12]);
  const flour = r.int(2, 8) * 50, sugar = r.int(1, 6) * 25, eggs = r.int(1, 4);
  const f = (x: number) => (x * want) / serves;
  const eq = (x: number) => eqv(f(x));
  const g = gcd(want, serves);
  return {
    statement: `A recipe for ${num(c, serves)} people uses ${flour} g of flour, ${sugar} g of sugar and ${num(c, eggs)} egg${eggs > 1 ? "s" : ""}. How much of each is needed for ${num(c, want)} people?`,
    solution: `Scale by ${want}/${serves}${g > 1 ? ` = ${m(c, rfrac(c, want, serves), rfrac(c, want, serves))}` : ""}. Flour: ${flour}${times(c)}${want}/${serves} ${eq(flour)} g. Sugar: ${sugar}${times(c)}${want}/${serves} ${eq(sugar)} g. Eggs: ${eggs}${times(c)}${want}/${serves} ${eq(eggs)}${Number.isInteger(f(eggs)) ? "" : `, so about ${Math.round(f(eggs))} eggs`}.`,
  };
};

const savings: Family = (c) => {
  const { r } = c;
  const name = r.pick(NAMES);
  if (r.chance(0.5)) {
    const goal = r.int(10, 60) * 10, have = r.int(0, 8) * 10, weekly = r.pick([5, 10, 15, 20, 25]);
    const weeks = Math.ceil((goal - have) / weekly);
    return { statement: `${name} wants a bike that costs ${money(goal)}. ${name} has ${money(have)} and saves ${money(weekly)} a week. How many weeks until ${name} can buy it?`, solution: `${name} still needs ${money(goal)} - ${money(have)} = ${money(goal - have)}. ${goal - have} / ${weekly} = ${((goal - have) / weekly).toFixed(2).replace(/\.00$/, "")}, so ${weeks} week${weeks === 1 ? "" : "s"} (rounding up).` };
  }
  const p = r.int(5, 40) * 100, rate = r.pick([2, 3, 4, 5, 6]), yrs = r.int(2, 6);
  const interest = (p * rate * yrs) / 100;
  return { statement: `${money(p)} is invested at ${rate}% simple interest per year. How much interest is earned in ${num(c, yrs)} years, and what is the final balance?`, solution: `Interest = principal${times(c)}rate${times(c)}time = ${p}${times(c)}${rate / 100}${times(c)}${yrs} = ${money(interest)}. Balance = ${money(p)} + ${money(interest)} = ${money(p + interest)}.` };
};

const workRate: Family = (c) => {
  const { r } = c;
  const [ta, tb] = r.pick([[2, 3], [3, 6], [4, 12], [6, 12], [10, 15], [12, 24], [5, 20], [6, 3]] as const);
  const together = (ta * tb) / (ta + tb);
  const thing = r.pick([["Pipe A", "pipe B", "fill the tank"], ["One printer", "a second printer", "print the report"], ["Lena", "Omar", "paint the fence"]]);
  return {
    statement: `${thing[0]} alone takes ${num(c, ta)} hours to ${thing[2]}; ${thing[1]} alone takes ${num(c, tb)} hours. How long does it take working together?`,
    solution: `Rates add: 1/${ta} + 1/${tb} = ${m(c, rfrac(c, ta + tb, ta * tb), rfrac(c, ta + tb, ta * tb))} of the job per hour. Time = 1 / that = ${m(c, rfrac(c, ta * tb, ta + tb), rfrac(c, ta * tb, ta + tb))} hours${Number.isInteger(together) ? "" : ` ≈ ${together.toFixed(2)} hours`}.`,
  };
};

const matrix2x2: Family = (c) => {
  const { r } = c;
  const [a, b, d, e] = [r.int(-6, 9), r.int(-6, 9), r.int(-6, 9), r.int(-6, 9)];
  const [p, q, s, t] = [r.int(-5, 5), r.int(-5, 5), r.int(-5, 5), r.int(-5, 5)];
  const A = m(c, `\\begin{pmatrix} ${a} & ${b} \\\\ ${d} & ${e} \\end{pmatrix}`, `[[${a}, ${b}], [${d}, ${e}]]`);
  if (r.chance(0.5)) return { statement: `Find the determinant of A = ${A}.`, solution: `det A = ad - bc = ${a}${times(c)}${e} - ${b}${times(c)}${d} = ${a * e - b * d}.` };
  const B = m(c, `\\begin{pmatrix} ${p} & ${q} \\\\ ${s} & ${t} \\end{pmatrix}`, `[[${p}, ${q}], [${s}, ${t}]]`);
  const P = [a * p + b * s, a * q + b * t, d * p + e * s, d * q + e * t];
  return { statement: `Compute the product AB for A = ${A} and B = ${B}.`, solution: `Each entry is a row of A times a column of B: (${a})(${p}) + (${b})(${s}) = ${P[0]}, (${a})(${q}) + (${b})(${t}) = ${P[1]}, (${d})(${p}) + (${e})(${s}) = ${P[2]}, (${d})(${q}) + (${e})(${t}) = ${P[3]}. So AB = ${m(c, `\\begin{pmatrix} ${P[0]} & ${P[1]} \\\\ ${P[2]} & ${P[3]} \\end{pmatrix}`, `[[${P[0]}, ${P[1]}], [${P[2]}, ${P[3]}]]`)}.` };
};

const inequality: Family = (c) => {
  const { r } = c;
  const a = r.nz(-6, 7), x0 = r.int(-10, 10), b = r.int(-15, 15);
  const rhs = a * x0 + b;
  const op = r.pick(["<", ">", "≤", "≥"] as const);
  const flip: Record<string, string> = { "<": ">", ">": "<", "≤": "≥", "≥": "≤" };
  const lx: Record<string, string> = { "<": "<", ">": ">", "≤": "\\le", "≥": "\\ge" };
  const res = a < 0 ? flip[op] : op;
  return {
    statement: `Solve the inequality ${m(c, `${poly(c, [a, b])} ${lx[op]} ${rhs}`, `${poly(c, [a, b])} ${op} ${rhs}`)}.`,
    solution: `Subtract ${b}: ${poly(c, [a, 0])} ${op} ${rhs - b}. Divide by ${a}${a < 0 ? ", which is negative, so the inequality sign flips" : ""}: x ${res} ${x0}.`,
  };
};

const logarithms: Family = (c) => {
  const { r } = c;
  const b = r.pick([2, 3, 5, 10]), k = r.int(2, b === 10 ? 6 : 7), j = r.int(1, 4);
  const v = b ** k;
  return r.chance(0.5)
    ? { statement: `Evaluate ${m(c, `\\log_{${b}} ${v}`, `log_${b}(${v})`, `the base-${b} logarithm of ${v}`)}.`, solution: `${v} = ${b}^${k}, so the logarithm is ${k}.` }
    : { statement: `Simplify ${m(c, `\\log_{${b}} ${v} - \\log_{${b}} ${b ** j}`, `log_${b}(${v}) - log_${b}(${b ** j})`)}.`, solution: `log_${b}(${v}) = ${k} and log_${b}(${b ** j}) = ${j}, so the difference is ${k - j} (equivalently log_${b}(${v}/${b ** j}) = log_${b}(${b ** (k - j)})).` };
};

const angles: Family = (c) => {
  const { r } = c;
  const a = r.int(20, 100), b = r.int(20, 150 - a);
  const n = r.int(5, 12);
  return r.chance(0.5)
    ? { statement: `Two angles of a triangle measure ${a}° and ${b}°. What is the third angle?`, solution: `The angles of a triangle sum to 180°, so the third is 180 - ${a} - ${b} = ${180 - a - b}°.` }
    : { statement: `What is the sum of the interior angles of a ${n}-sided polygon, and each angle if it is regular?`, solution: `The sum is (n - 2)${times(c)}180 = ${n - 2}${times(c)}180 = ${(n - 2) * 180}°. A regular ${n}-gon has angles of ${(n - 2) * 180}/${n} = ${Number.isInteger(((n - 2) * 180) / n) ? ((n - 2) * 180) / n : (((n - 2) * 180) / n).toFixed(2)}°.` };
};

export const TRAIN_FAMILIES: Record<string, Family> = {
  arithmetic, "long-division": longDivision, "linear-equation": linearEquation, "linear-both-sides": linearBothSides,
  "system-2x2": system2x2, quadratic, derivative, "definite-integral": definiteIntegral, "fraction-add": fractionAdd,
  "fraction-multiply": fractionMultiply, "percent-of": percentOf, "percent-change": percentChange, "gcd-lcm": gcdLcm,
  "prime-factorization": primeFactorization, "arithmetic-sequence": arithmeticSequence, "geometric-sequence": geometricSequence,
  "area-perimeter": areaPerimeter, pythagoras, statistics, probability, combinatorics, "modular-power": modularPower,
  "base-conversion": baseConversion, "exponent-rules": exponentRules, "unit-conversion": unitConversion, shopping, sharing,
  ages, "recipe-scaling": recipeScaling, savings, "work-rate": workRate, "matrix-2x2": matrix2x2, inequality, logarithms, angles,
};

// ---------------------------------------------------------------------------------------------
// Held-out family: distance, rate and time (test split only)

export const HELD_OUT_FAMILY = "distance-rate-time";

const distanceRateTime: Family = (c) => {
  const { r } = c;
  const kind = r.int(0, 2);
  const name = r.pick(NAMES);
  if (kind === 0) {
    // Two legs; average speed = total distance / total time (not the mean of the speeds).
    const v1 = r.pick([30, 40, 45, 50, 60, 80]), t1 = r.int(1, 4), v2 = r.pick([20, 30, 60, 90]), t2 = r.int(1, 3);
    const d = v1 * t1 + v2 * t2;
    return {
      statement: `${name} drives for ${num(c, t1)} hour${t1 === 1 ? "" : "s"} at ${v1} km/h, then ${num(c, t2)} hour${t2 === 1 ? "" : "s"} at ${v2} km/h. How far does ${name} travel, and what is the average speed?`,
      solution: `Leg 1: ${v1}${times(c)}${t1} = ${v1 * t1} km. Leg 2: ${v2}${times(c)}${t2} = ${v2 * t2} km. Total ${d} km in ${t1 + t2} h, so the average speed is ${d}/${t1 + t2} = ${m(c, rfrac(c, d, t1 + t2), rfrac(c, d, t1 + t2))} km/h${Number.isInteger(d / (t1 + t2)) ? "" : ` ≈ ${(d / (t1 + t2)).toFixed(2)} km/h`}.`,
    };
  }
  if (kind === 1) {
    // Two travellers approach each other: closing speed is the sum of speeds.
    const va = r.pick([40, 50, 60, 70]), vb = r.pick([30, 50, 80, 90]), t = r.int(1, 5);
    const dist = (va + vb) * t;
    const [a, b] = r.sample(["Town A", "Riverside", "Hillport", "Northgate", "Lakeview"], 2);
    return {
      statement: `${a} and ${b} are ${dist} km apart. A car leaves ${a} at ${va} km/h towards ${b}, and at the same time a bus leaves ${b} at ${vb} km/h towards ${a}. When and where do they meet?`,
      solution: `They close the gap at ${va} + ${vb} = ${va + vb} km/h, so they meet after ${dist}/${va + vb} = ${t} h, when the car has driven ${va}${times(c)}${t} = ${va * t} km from ${a}.`,
    };
  }
  // Round trip with different speeds: time = d/v1 + d/v2.
  const d = r.pick([12, 24, 30, 60]), v1 = r.pick([4, 6, 12]), v2 = r.pick([3, 6, 8]);
  const tt = d / v1 + d / v2;
  return {
    statement: `${name} cycles ${d} km to a lake at ${v1} km/h and walks back at ${v2} km/h. How long does the round trip take, and what is the average speed?`,
    solution: `Out: ${d}/${v1} = ${+(d / v1).toFixed(3)} h. Back: ${d}/${v2} = ${+(d / v2).toFixed(3)} h. Total ${+tt.toFixed(3)} h for ${2 * d} km, so the average speed is ${2 * d}/${+tt.toFixed(3)} ${eqv((2 * d) / tt)} km/h.`,
  };
};

// ---------------------------------------------------------------------------------------------
// Worksheets

const SHEET_TITLES = ["Exercises", "Worksheet", "Practice set", "Homework", "Problem set", "Drill", "Review sheet"];
const PROBLEM_LABELS = [(k: number) => `Problem ${k}.`, (k: number) => `Question ${k}:`, (k: number) => `${k})`, (k: number) => `Exercise ${k}.`, (k: number) => `Q${k}.`];
const SOLUTION_LABELS = ["Solution.", "Answer:", "Worked solution:", "Solution:", "Working:"];

export interface Worksheet {
  /** Family name for single-family drills and held-out sheets; "mixed" otherwise. */
  family: string;
  text: string;
  heldOut: boolean;
}

/** One worksheet of 4–8 problems. Families: one (a drill) or several (mixed). */
export function worksheet(r: Rng, index: number, families: Record<string, Family>, single: boolean): { family: string; text: string } {
  const names = Object.keys(families);
  const drill = single ? r.pick(names) : undefined;
  const n = r.int(4, 8);
  const notation = r.pick<Notation>(["latex", "plain", "plain", "words"]);
  const label = r.pick(PROBLEM_LABELS);
  const sol = r.pick(SOLUTION_LABELS);
  const title = `${r.pick(SHEET_TITLES)} ${index}${drill ? `: ${drill.replace(/-/g, " ")}` : r.chance(0.5) ? ": mixed practice" : ""}`;
  const parts = [title];
  for (let k = 1; k <= n; k++) {
    const fam = drill ?? r.pick(names);
    const p = families[fam]({ r, n: notation });
    parts.push(`${label(k)} ${p.statement}\n${sol} ${p.solution}`);
  }
  return { family: drill ?? "mixed", text: parts.join("\n\n") };
}

/** All worksheets: `count` training-family sheets (about half drills), then the held-out ones. */
export function generateMath(seed: number, count: number, heldOutCount: number): Worksheet[] {
  const r = new Rng(seed);
  const out: Worksheet[] = [];
  for (let i = 0; i < count; i++) {
    const w = worksheet(r, i + 1, TRAIN_FAMILIES, r.chance(0.5));
    out.push({ ...w, heldOut: false });
  }
  // A separate stream, so changing `count` does not change the held-out sheets.
  const h = new Rng(seed ^ 0x5eed);
  for (let i = 0; i < heldOutCount; i++) {
    const w = worksheet(h, 9001 + i, { [HELD_OUT_FAMILY]: distanceRateTime }, true);
    out.push({ family: `heldout-${HELD_OUT_FAMILY}`, text: w.text, heldOut: true });
  }
  return out;
}
