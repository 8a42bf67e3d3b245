import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { barChart, DISPLAY, figureToHtml, PLOTLY_MIME, tableHtml, tableText } from "../../lib/display";
import { htmlOf, ResultRecord, textOf, type HtmlPart } from "../../lib/display/record";
import type { TableSpec } from "../../lib/display/views";

class Scores extends ResultRecord {
  readonly model: string;
  readonly ppl: number[];
  readonly decode = (id: number) => String(id); // a function field: never JSON
  constructor(model: string, ppl: number[]) {
    super();
    this.model = model;
    this.ppl = ppl;
  }
  private table(): TableSpec {
    return { columns: ["domain", "ppl"], rows: this.ppl.map((p, i) => [`d${i}`, p]), digits: 3 };
  }
  toString(): string {
    return textOf(`scores of ${this.model}`, this.table(), this.ppl.length === 0 && "(no domain)");
  }
  override chart() {
    return barChart({ title: "ppl", categories: this.ppl.map((_, i) => `d${i}`), series: [{ name: this.model, values: this.ppl }] });
  }
  protected override html(fig: HtmlPart): HtmlPart[] {
    return [fig, "<p>note</p>", this.table()];
  }
}

class Plain extends ResultRecord {
  readonly n = 3;
  toString(): string {
    return `plain ${this.n}`;
  }
}

test("textOf: lines and aligned tables, conditional parts left out, empty strings kept", () => {
  const t: TableSpec = { columns: ["a"], rows: [[1.23456]], digits: 2 };
  assert.equal(textOf("head", t, false, null, undefined, "", "tail"), `head\n${tableText(t)}\n\ntail`);
});

test("htmlOf: figures as offline SVG, tables as HTML tables, strings as they are", () => {
  const fig = barChart({ categories: ["x"], series: [{ name: "s", values: [1] }] });
  const t: TableSpec = { columns: ["a"], rows: [[1]] };
  assert.equal(htmlOf(fig, false, "<b>x</b>", t), figureToHtml(fig) + "<b>x</b>" + tableHtml(t));
});

test("ResultRecord: one bundle from toString, chart and html; JSON = data fields; the REPL prints the summary", () => {
  const r = new Scores("m", [2, 3]);
  const b = r[DISPLAY]();
  assert.equal(b["text/plain"], String(r));
  assert.deepEqual(b[PLOTLY_MIME], r.chart());
  assert.equal(b["text/html"], figureToHtml(r.chart()) + "<p>note</p>" + tableHtml({ columns: ["domain", "ppl"], rows: [["d0", 2], ["d1", 3]], digits: 3 }));
  assert.equal(JSON.stringify(r), '{"model":"m","ppl":[2,3]}');
  assert.equal(inspect(r), String(r));
  assert.match(inspect({ r }), /r: scores of m\n/); // nested too (Node indents the lines)
});

test("ResultRecord without chart or html: text/plain only", () => {
  const b = new Plain()[DISPLAY]();
  assert.deepEqual(Object.keys(b), ["text/plain"]);
  assert.equal(b["text/plain"], "plain 3");
});
