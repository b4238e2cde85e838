// Merkle proofs checked in the auditor's browser with WebCrypto SHA-256 (RFC 9162 hashing,
// as src/redline/ledger/merkle.py): the server supplies bytes and proofs, the browser does
// the hashing and reads each root from the signed checkpoint note itself.
"use strict";

function b64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function same(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
}

const leafHash = (data) => sha256(Uint8Array.of(0), data);
const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r);
const half = (n) => Math.floor(n / 2);
const odd = (n) => n % 2 === 1;

class ProofError extends Error {}

// The checkpoint in a signed note: origin, size and root, read from its body.
function parseNote(note) {
  const body = note.split("\n");
  if (body.length < 3 || !/^(0|[1-9][0-9]*)$/.test(body[1])) {
    throw new ProofError("the checkpoint note has no origin, size and root lines");
  }
  const root = b64(body[2]);
  if (root.length !== 32) throw new ProofError("the checkpoint root is " + root.length + " bytes, expected 32");
  return { origin: body[0], size: parseInt(body[1], 10), root };
}

// RFC 9162 2.1.3.2
async function verifyInclusion(leaf, index, size, proof, root) {
  if (index < 0 || index >= size) throw new ProofError(`leaf index ${index} is outside a tree of size ${size}`);
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new ProofError(`inclusion proof has ${proof.length} hashes, too many`);
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`inclusion proof has ${proof.length} hashes, too few`);
  if (!same(r, root)) {
    throw new ProofError(`root mismatch: computed ${hex(r)}, the checkpoint says ${hex(root)}`);
  }
}

// RFC 9162 2.1.4.2 (the walk of merkle.verify_subtree_consistency from leaf 0)
async function verifyConsistency(size1, size2, proof, root1, root2) {
  if (size1 < 1 || size2 < size1) throw new ProofError(`no consistency proof from ${size1} to ${size2}`);
  let fn = 0, sn = size1 - 1, tn = size2 - 1;
  const shift = () => { fn = half(fn); sn = half(sn); tn = half(tn); };
  if (sn === tn) { while (fn !== sn) shift(); } else { while (fn !== sn && odd(sn)) shift(); }
  const path = proof.slice();
  let fr, sr;
  if (fn === sn) { fr = sr = root1; }
  else if (path.length) { fr = sr = path.shift(); }
  else throw new ProofError(`empty proof for a tree of ${size1}, which is not one node`);
  for (const c of path) {
    if (tn === 0) throw new ProofError(`consistency proof has ${proof.length} hashes, too many`);
    if (odd(sn) || sn === tn) {
      if (fn < sn) fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!odd(sn) && sn !== 0) shift();
    } else {
      sr = await nodeHash(sr, c);
    }
    shift();
  }
  if (tn !== 0) throw new ProofError(`consistency proof has ${proof.length} hashes, too few`);
  if (!same(fr, root1)) throw new ProofError(`root at size ${size1} mismatch: computed ${hex(fr)}, the checkpoint says ${hex(root1)}`);
  if (!same(sr, root2)) throw new ProofError(`root at size ${size2} mismatch: computed ${hex(sr)}, the checkpoint says ${hex(root2)}`);
}

// The checkpoint note's text once its Ed25519 signature by `keyText` (NAME+KEYID+BASE64,
// the verifier key the auditor was given) checks, as ledger/note.py open_note.
async function openNote(note, keyText) {
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+(\S+)$/.exec(keyText.trim());
  if (!m) throw new ProofError("a verifier key reads NAME+KEYID+BASE64KEY");
  const [, name, keyHex, keyB64] = m;
  const raw = b64(keyB64);
  if (raw.length !== 33 || raw[0] !== 1) throw new ProofError("the verifier key is not an Ed25519 key");
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0 || !note.endsWith("\n")) throw new ProofError("malformed note: no signature block");
  const text = note.slice(0, cut + 1);
  let signature = null;
  for (const line of note.slice(cut + 2, -1).split("\n")) {
    const [dash, who, sig64] = line.split(" ");
    if (dash !== "\u2014" || !who || !sig64) throw new ProofError("malformed signature line " + JSON.stringify(line));
    const sig = b64(sig64);
    if (who === name && hex(sig.slice(0, 4)) === keyHex.toLowerCase()) signature = sig.slice(4);
  }
  if (!signature) throw new ProofError(`the checkpoint carries no signature by key ${name}+${keyHex}`);
  let key;
  try {
    key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    throw new ProofError("this browser cannot check Ed25519 signatures: " + e.message);
  }
  const good = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, new TextEncoder().encode(text));
  if (!good) throw new ProofError(`the checkpoint's signature by ${name}+${keyHex} does not verify`);
  return text;
}

function verifierKey() {
  const input = document.getElementById("verifier-key");
  if (!input || !input.value.trim()) throw new ProofError("no verifier key: paste the one you were given");
  return input.value;
}

function say(el, ok, text) {
  el.textContent = (ok ? "✔ " : "✘ ") + text;
  el.classList.remove("ok", "bad");
  el.classList.add(ok ? "ok" : "bad");
  el.dataset.verified = ok ? "true" : "false";
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
  const body = await r.json();
  if (!r.ok) throw new ProofError(body.error ? body.error.message : "HTTP " + r.status);
  return body;
}

function step(list, text) {
  const li = document.createElement("li");
  li.textContent = text;
  list.appendChild(li);
}

async function checkEntry(el) {
  const steps = document.getElementById("inclusion-steps");
  try {
    if (!window.crypto || !crypto.subtle) throw new ProofError("this browser offers no WebCrypto here (it needs HTTPS or localhost)");
    steps.replaceChildren();
    const got = await getJSON(`/console/api/ledger/entries/${el.dataset.index}/proof`);
    const cp = parseNote(await openNote(got.note, verifierKey()));
    const bytes = b64(got.entry);
    const leaf = await leafHash(bytes);
    step(steps, `hashed the entry's ${bytes.length} stored bytes: leaf ${hex(leaf)}`);
    step(steps, `checked the checkpoint's Ed25519 signature: ${cp.origin}, size ${cp.size}, root ${hex(cp.root)}`);
    await verifyInclusion(leaf, got.index, cp.size, got.proof.map(b64), cp.root);
    step(steps, `walked ${got.proof.length} proof hashes up to that root`);
    say(el, true, `Verified in your browser: entry ${got.index} is in the signed tree of ${cp.size} entries.`);
  } catch (e) {
    say(el, false, "Verification FAILED: " + e.message + (e instanceof ProofError ? "" : " (" + e.name + ")"));
  }
}

async function checkConsistency(event) {
  event.preventDefault();
  const out = document.getElementById("consistency-result");
  const from = document.getElementById("from").value, to = document.getElementById("to").value;
  out.textContent = "Verifying…";
  try {
    const got = await getJSON(`/console/api/ledger/consistency?from=${from}&to=${to}`);
    const key = verifierKey();
    const a = parseNote(await openNote(got.first_note, key));
    const b = parseNote(await openNote(got.second_note, key));
    if (a.size !== got.from || b.size !== got.to) throw new ProofError("the notes' sizes are not the ones asked for");
    await verifyConsistency(a.size, b.size, got.proof.map(b64), a.root, b.root);
    say(out, true, `Verified in your browser: the tree of ${b.size} extends the tree of ${a.size} (${got.proof.length} proof hashes).`);
  } catch (e) {
    say(out, false, "Verification FAILED: " + e.message);
  }
}

const entry = document.getElementById("inclusion-result");
if (entry) {
  checkEntry(entry);
  document.getElementById("verify-again").addEventListener("click", () => checkEntry(entry));
}
const form = document.getElementById("consistency-form");
if (form) form.addEventListener("submit", checkConsistency);
