"""Each dialogue line of a shot as spoken temp dialogue: its voice, its real length, its sound.

Shared by the sound (what is heard), the overlays (how long the subtitle stays) and
validation (a line that runs past the shot's end or into the next line). Without eSpeak the
length is estimated from the word count and the sound is a tone burst.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from storyboard.format.model import CastMember, DialogueLine, Shot
from storyboard.render.previs.speech import Voice, speak, voice_for

__all__ = ["SpokenLine", "spoken_lines", "voice_of", "WORDS_PER_SECOND"]

WORDS_PER_SECOND = 2.8  # the estimate when eSpeak is not there


@dataclass(frozen=True)
class SpokenLine:
    line: DialogueLine
    voice: Voice
    seconds: float  # how long it takes to say
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)  # None: tones

    @property
    def end(self) -> float:
        return self.line.at + self.seconds


def voice_of(who: str, cast: Iterable[CastMember]) -> Voice:
    """The voice of a speaker: the cast entry's ``voice:``, else one chosen from the name."""
    member = next((m for m in cast if m.name == who), None)
    return voice_for(who, member.voice if member else None)


def spoken_lines(shot: Shot, cast: Iterable[CastMember], rate: int) -> list[SpokenLine]:
    members = tuple(cast)
    lines = []
    for line in shot.audio.dialogue:
        voice = voice_of(line.who, members)
        samples = speak(line.line, voice, rate)
        seconds = (
            len(samples) / rate
            if samples is not None
            else max(1, len(line.line.split())) / WORDS_PER_SECOND
        )
        lines.append(SpokenLine(line, voice, seconds, samples))
    return lines
