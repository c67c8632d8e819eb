"""German stop words: one list for both search engines.

Tantivy's analyser drops them (catalogue/search/tantivy_backend.py) and
Meilisearch gets them as its `stopWords` setting (meili_backend.py), so a
query word counts, or does not, the same way on either engine. A change of
the list changes both engines' index versions, so both rebuild their index.

Only function words: articles, pronouns, prepositions, conjunctions, forms of
auxiliary and modal verbs, particles; never a content word a staff member
would search for. (Kept apart from the lexicon, whose import builds it.)
"""

from __future__ import annotations

_FUNCTION_WORDS = """
aber alle allem allen aller alles als also am an andere anderem anderen anderer anders auch auf aus
bei bin bis bist da damit dann das dass dasselbe dazu dem den denen denn der des dessen die dies diese
dieselbe diesem diesen dieser dieses doch dort du durch ein eine einem einen einer eines einig einige
einigen einmal er es etwa etwas euch für gegen gewesen habe haben hat hatte hatten hier hin hinter ich ihm
ihn ihnen ihr ihre ihrem ihren ihrer im in indem ins ist ja jede jedem jeden jeder jedes jetzt kann kein
keine keinem keinen keiner können könnte machen man meine mir mit muss musste nach nicht nichts noch nun
nur ob oder ohne sehr sein seine seinen seiner selbst sich sie sind so solcher solches soll sollen sollte
sondern sowie über um und uns unser unter viel vom von vor während war waren was weg weil weiter welche
welchem welchen welcher wenn wer werde werden wie wieder will wir wird wo wollen würde würden zu zum zur
zwar zwischen
"""


def _stop_words() -> frozenset[str]:
    words = set(_FUNCTION_WORDS.split())
    # also as an engine may see them once the umlaut's dots are dropped ("für" -> "fur")
    folded = {w.replace("ä", "a").replace("ö", "o").replace("ü", "u") for w in words}
    return frozenset(words | folded)


STOP_WORDS: frozenset[str] = _stop_words()

__all__ = ["STOP_WORDS"]
