"""The demo's own small dataset: technical-support articles with lay-language queries, split by article.

Articles describe (product, issue) in technical terms; queries describe the same issue the way a customer would.
Train and test articles cover different products, so the test measures whether a fine-tuned model learned the
lay ↔ technical mapping rather than the articles themselves. Holdout: general-domain sentence pairs with graded
similarity (STS) and the built-in probes. The training file also carries a few test queries verbatim, so the
report has real leakage to find.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PRODUCTS = ["Nimbus R7 router", "Vertex L14 laptop", "Quill P220 printer", "Atlas D3 dock", "Pico M2 mesh node",
            "Orbit T9 tablet", "Helix S5 smart speaker", "Forge W2 workstation", "Lumen C4 webcam",
            "Strata N8 NAS", "Echo K1 keyboard", "Halo V6 monitor"]
# issue: (technical title, technical body, lay queries)
ISSUES = [
    ("POST halt at power-on", "The unit halts during power-on self-test; the status LED blinks amber three times. "
     "Reseat the power supply connector and perform a cold reset.",
     ["{p} won't turn on at all", "nothing happens when I press the power button on my {p}"]),
    ("Backlight failure", "The display backlight fails while the panel still receives signal; the image is faintly "
     "visible under a flashlight. Replace the backlight inverter.",
     ["screen on my {p} stays black but I can hear it running", "{p} display went dark, picture barely visible"]),
    ("DHCP lease exhaustion", "Clients cannot obtain an address because the DHCP pool is exhausted. Shorten the lease "
     "time or enlarge the address range.",
     ["new devices can't connect to the {p}", "my phone says no IP address on the {p}"]),
    ("Thermal throttling", "Sustained load raises the package temperature past the limit and clocks are reduced. "
     "Clean the heatsink fins and update the fan curve.",
     ["{p} gets really slow after a few minutes and feels hot", "{p} fan is loud and everything lags"]),
    ("Firmware signature mismatch", "The update is rejected because the image signature does not match the "
     "bootloader key. Download the image for the correct hardware revision.",
     ["update for my {p} keeps failing", "{p} says the new software is invalid"]),
    ("Paper feed misalignment", "Media is drawn in skewed because the pickup roller is worn. Clean or replace the "
     "pickup roller and adjust the guides.",
     ["pages come out crooked from the {p}", "{p} keeps grabbing the paper at an angle"]),
    ("Wi-Fi channel interference", "Co-channel interference from neighbouring access points lowers throughput. "
     "Select a less congested channel or switch to the 5 GHz band.",
     ["internet on the {p} is super slow in the evening", "{p} wifi keeps dropping when neighbours are home"]),
    ("Battery calibration drift", "The fuel gauge reports an inaccurate state of charge. Run a full discharge and "
     "charge cycle to recalibrate the gauge.",
     ["{p} dies at 30 percent battery", "battery percentage on my {p} jumps around"]),
    ("USB enumeration failure", "The host does not enumerate the device because the descriptor request times out. "
     "Try another port and disable selective suspend.",
     ["computer doesn't recognise the {p} when I plug it in", "{p} not showing up over USB"]),
    ("Audio clock desynchronisation", "Sample-rate mismatch between host and device causes crackling. Set both to "
     "48 kHz in the audio settings.",
     ["sound from the {p} crackles and pops", "{p} audio is choppy with static"]),
    ("Disk SMART warning", "The drive reports reallocated sectors through SMART. Back up data and replace the drive "
     "before it fails.",
     ["{p} warns that the drive is about to die", "my {p} says hard disk problem"]),
    ("Credential store corruption", "Saved credentials cannot be decrypted after a profile change. Clear the "
     "credential cache and sign in again.",
     ["{p} keeps asking for my password", "can't log in to the {p} even with the right password"]),
    ("Key matrix ghosting", "Simultaneous key presses register phantom keys because of matrix ghosting. Enable "
     "n-key rollover mode in the firmware settings.",
     ["{p} types letters I didn't press", "when I press several keys on the {p} extra ones appear"]),
    ("Colour profile mismatch", "The ICC profile does not match the panel, so colours look washed out. Install the "
     "calibrated profile for this panel.",
     ["colours look faded on the {p}", "{p} picture looks pale and washed out"]),
    ("Clock drift and NTP failure", "The system clock drifts because NTP synchronisation is blocked. Allow UDP port "
     "123 and set a reachable time server.",
     ["time on the {p} is always wrong", "{p} clock runs minutes behind"]),
    ("Power delivery negotiation failure", "The charger and device fail to negotiate a USB-PD contract and fall back "
     "to 5 V. Use a certified cable rated for 100 W.",
     ["{p} charges super slowly with my charger", "{p} says slow charger connected"]),
]
GENERAL_PAIRS = [  # (sentence1, sentence2, gold similarity 0-5)
    ("A man is playing a guitar.", "A person plays the guitar.", 4.8),
    ("A woman is slicing an onion.", "Someone is cutting an onion.", 4.6),
    ("The children are playing in the park.", "Kids are playing outside in a park.", 4.5),
    ("A dog runs across the field.", "A dog is running through the grass.", 4.2),
    ("The train arrived late this morning.", "This morning's train was delayed.", 4.4),
    ("She is reading a book in the library.", "A woman reads in the library.", 4.3),
    ("The stock market fell sharply today.", "Shares dropped a lot today.", 4.1),
    ("He cooked pasta for dinner.", "He made spaghetti for his evening meal.", 3.8),
    ("A cat is sleeping on the sofa.", "A cat naps on the couch.", 4.7),
    ("The weather is sunny and warm.", "It is a hot, bright day.", 3.9),
    ("A man is riding a bicycle.", "A man is riding a horse.", 2.2),
    ("The girl is painting a picture.", "The girl is drawing a house.", 2.8),
    ("The team won the football match.", "The team lost the football match.", 2.4),
    ("A woman is playing the piano.", "A man is playing the violin.", 1.8),
    ("The plane took off on time.", "The ship left the harbour late.", 1.2),
    ("He is drinking coffee.", "He is drinking tea.", 2.9),
    ("The city council approved the budget.", "The council passed the city budget.", 4.6),
    ("Birds are flying over the lake.", "Fish are swimming in the lake.", 1.6),
    ("A chef is cutting vegetables.", "A man is fixing a car.", 0.4),
    ("The museum opens at nine.", "The concert starts at eight.", 0.8),
    ("Two people are hiking up a mountain.", "A couple climbs a mountain trail.", 4.2),
    ("The baby is crying.", "The infant is in tears.", 4.4),
    ("A boy kicks a ball.", "A child is kicking a football.", 4.3),
    ("The company hired new engineers.", "The firm recruited more engineers.", 4.5),
    ("It is raining in London.", "London is having wet weather.", 4.0),
    ("A woman is singing on stage.", "A woman is dancing on stage.", 2.6),
    ("The library is closed on Sunday.", "The shop is open every day.", 0.9),
    ("Scientists discovered a new planet.", "Astronomers found a new exoplanet.", 4.4),
    ("He lost his keys.", "He found a wallet.", 1.0),
    ("The river flooded the village.", "The village was flooded by the river.", 4.9),
    ("A man is swimming in the sea.", "A man is sunbathing on the beach.", 2.0),
    ("The students passed the exam.", "The pupils did well on the test.", 4.1),
    ("The car is parked outside.", "A bird sings in the tree.", 0.1),
    ("She bought a new dress.", "She purchased a new outfit.", 4.0),
    ("The meeting was cancelled.", "The meeting has been called off.", 4.8),
    ("A horse is eating hay.", "A cow is grazing in the field.", 2.1),
]
SEED = 13
LEAKED_TEST_QUERIES = 3  # test queries copied verbatim into the training file (the report should find them)


def write_demo_data(folder: str | Path) -> dict[str, Path]:
    """Write the demo dataset into folder; returns the paths (suite.toml, train.jsonl, ...)."""
    folder = Path(folder)
    beir = folder / "support"
    (beir / "qrels").mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    train_products = set(PRODUCTS[:7])
    corpus, queries, qrels, train_pairs = [], [], [], []
    for p_i, product in enumerate(PRODUCTS):
        for i_i, (title, body, lay) in enumerate(ISSUES):
            doc_id = f"kb-{p_i:02d}-{i_i:02d}"
            corpus.append({"_id": doc_id, "title": f"{product}: {title}", "text": body})
            for q_i, template in enumerate(lay):
                text = template.format(p=product)
                if product in train_products:
                    train_pairs.append({"anchor": text, "positive": f"{product}: {title} {body}"})
                else:
                    queries.append({"_id": f"q-{p_i:02d}-{i_i:02d}-{q_i}", "text": text})
                    qrels.append((f"q-{p_i:02d}-{i_i:02d}-{q_i}", doc_id))
    rng.shuffle(train_pairs)
    for q in rng.sample(queries, LEAKED_TEST_QUERIES):
        doc = next(d for qid, d in qrels if qid == q["_id"])
        train_pairs.append({"anchor": q["text"], "positive": next(f"{c['title']} {c['text']}" for c in corpus
                                                                   if c["_id"] == doc)})
    _jsonl(beir / "corpus.jsonl", corpus)
    _jsonl(beir / "queries.jsonl", queries)
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n"
                                                                                   for q, d in qrels))
    _jsonl(folder / "train.jsonl", train_pairs)
    (folder / "general-sts.tsv").write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{s}\n" for a, b, s in GENERAL_PAIRS))
    (folder / "suite.toml").write_text(SUITE)
    return {"suite": folder / "suite.toml", "train": folder / "train.jsonl", "beir": beir}


SUITE = """# The demo suite: in-domain retrieval on held-out products, general-domain STS as holdout, probes.
[[task]]
name = "support-retrieval"
kind = "retrieval"
data = "support"
split = "test"
tag = "in-domain"
metrics = ["ndcg@10", "recall@10", "mrr@10"]

[[task]]
name = "general-sts"
kind = "sts"
data = "general-sts.tsv"
tag = "holdout"
metrics = ["spearman"]

[[task]]
name = "probes"
kind = "probes"
data = "builtin"
tag = "holdout"
"""


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
