"""A synthetic coding task: staff training (push) vs. co-creation (exchange), some of
either funded; a suggester learns it from a few dozen sentences."""

from __future__ import annotations

import random

SUBJECTS = ["The nurses", "Our team", "The clinic staff", "The teachers", "Local volunteers",
            "The health workers", "Program managers", "The outreach officers"]
TRAINING = ["attended a training workshop on", "were taught in a lecture about",
            "completed a training course on", "were instructed by experts on",
            "sat through a classroom training about"]
COCREATION = ["co-designed together with residents", "worked jointly with community partners on",
              "co-created with families", "shared decisions with community members about",
              "built together with parents"]
TOPICS = ["the new screening protocol", "hand hygiene", "the referral pathway",
          "the reading programme", "vaccination outreach", "the school meals plan"]
FUNDING = " after the grant budget was approved"


def synthetic(n: int, seed: int) -> tuple[list[str], list[set[str]], list[str]]:
    rng = random.Random(seed)
    texts, codes, stages = [], [], []
    for i in range(n):
        kind = "training" if i % 2 == 0 else "co_creation"
        phrase = rng.choice(TRAINING if kind == "training" else COCREATION)
        funded = rng.random() < 0.4
        texts.append(f"{rng.choice(SUBJECTS)} {phrase} {rng.choice(TOPICS)}"
                     f"{FUNDING if funded else ''}.")
        codes.append({kind} | ({"funding"} if funded else set()))
        stages.append("push" if kind == "training" else "exchange")
    return texts, codes, stages


CODES = ["training", "co_creation", "funding", "never_used"]
STAGE_LABELS = ["push", "push_pull", "exchange", "none"]
