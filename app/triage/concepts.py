"""The concepts triage reads in a narrative: what the lexicon in the configuration may name.

The lexicon (``[triage.lexicon]`` in config.example.toml) gives each concept its words in each
language; :mod:`app.triage.reading` finds them and reads them in context, and
:mod:`app.triage.scoring` combines them into a level.
"""

from __future__ import annotations

from collections.abc import Iterable

NOW, PRESENT, RECENT, PAST, RESOLVED = "now", "present", "recent", "past", "resolved"
FRAME_WORDS = {NOW: PRESENT, PRESENT: PRESENT, RECENT: RECENT, PAST: PAST, RESOLVED: RESOLVED}
# A verb's tense ("was", "estaba", Korean 었) says when a state held: whether he *was* at the
# door, or *is*. It says little of other things ("he locked me in" still holds), so it frames
# only these concepts, and does not carry over to the next clause.
TENSE = "past_tense"
TENSE_SENSITIVE = {"presence", "attack", "hiding", "held_back", "help_now"}
# What the configuration's lexicon may name, and what each concept means. Frame words and
# modifiers shape how the others are read; the rest are what triage weighs.
CONCEPTS = {
    "weapon": "a knife, gun or other weapon",
    "kill_threat": "a threat to kill, shoot or stab",
    "presence": "the person is here or near: at the door, outside, in the room, on the way",
    "confinement": "locked in, shut in, held, the door blocked",
    "held_back": "not allowed to leave (weaker alone: may be about a debt or a shift)",
    "hiding": "hiding from someone",
    "barricade": "locked in a room of her own, the door blocked: hiding when someone threatens",
    "attack": "an attack going on as they write",
    "help_now": "a plea for help at once",
    "fear": "fear",
    "self_harm": "thoughts of suicide or self-harm",
    "injury": "bleeding, broken bones, hospital, bruises",
    "strangulation": "choking or strangling",
    "violence": "hitting, pushing, slapping",
    "sexual_violence": "rape, sexual assault, unwanted sexual touching",
    "threat": "threats, stalking, following",
    "passport": "a passport, visa, green card or work permit (held by someone else)",
    "papers": "papers, documents, ID (coercion when taken or kept: see keeping)",
    "belongings": "a phone, keys, shoes (coercion when taken or kept: see keeping)",
    "keeping": "taking or keeping someone's things",
    "debt": "a debt to the employer, an agency or for the journey",
    "living_at_work": "living or sleeping at work",
    "sleeping": "sleeping or living (at work when near a workplace word)",
    "workplace": "the spa, the shop, the massage table",
    "unpaid_work": "work without pay, wages or tips kept",
    "immigration_threat": "threats to report them to immigration or the police",
    NOW: "now, this very moment",
    PRESENT: "words of the present: today, tonight, still, he is",
    RECENT: "words of the recent past: yesterday, last week",
    TENSE: "verbs in a past tense: was, were, estaba, Korean 었/았 (see TENSE_SENSITIVE)",
    PAST: "words of the distant past: years ago, last year",
    RESOLVED: "words that close a matter: he is in jail, moved away, never came back",
    "negation": "not, never, no (before what it denies)",
    "negation_after": "a negation that follows what it denies (Korean)",
    "not_negation": 'words holding a negation word that deny nothing (Portuguese "no spa")',
    "clause_break": "but, however, 但是, 하지만: a new clause begins",
    "subject": 'he, she, I: a negation before one belongs to something else ("no, he is here")',
    "hypothetical": "if, someday: what follows is not happening",
    "habitual": "every night, always: what the clause tells is not this one time",
    "condition": "until, unless: leaving depends on something (a debt)",
    "ignore": "words that contain a signal word but mean something else",
    "soon": "tonight, today, when we close: when a threat is for",
    "arriving": 'coming, on the way (presence when soon: "coming tonight")',
    "door_locked": "a door locked or padlocked (confinement when now, or with other signs)",
    "covert": "writing in secret: a hidden phone, from the bathroom",
    "alone": "alone: nobody else is there",
    "escape": "trying to escape",
}
# Pairs that mean a concept when near each other in one clause: (first, second, within chars).
PAIRS = {
    "documents_held": (("papers", "belongings"), ("keeping",), 60),
    "living_at_work": (("sleeping",), ("workplace",), 40),
    "presence": (("arriving",), ("soon",), 30),
}

# How the lexicon sorts what it finds: concepts triage weighs are "content"; the others shape
# how those are read.
ROLES = {
    **dict.fromkeys(FRAME_WORDS, "times"),
    **dict.fromkeys((TENSE, "negation", "negation_after", "hypothetical", "habitual", "condition"), "modifiers"),
    "clause_break": "breaks",
    "ignore": "ignore",
    "not_negation": "not_negation",
}


def check_concepts(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(CONCEPTS))
    if unknown:
        raise ValueError(f"unknown triage concept {unknown[0]!r}; known: {', '.join(sorted(CONCEPTS))}")
