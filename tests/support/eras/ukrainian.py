"""A current-markup page of a Ukrainian Alaveteli site: the sample site's renderer, translated.

Alaveteli sites in other languages serve the same templates with their
strings translated (gettext) and dates in the local form.  This module
renders a made-up Ukrainian thread with ``corpus.sample_site.render`` and
swaps every template string and month name for a Ukrainian one (the
translations are written for this fixture), so the result has the current
markup and no English sentences: a parser that leant on English words for
structure would misread it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from corpus.sample_site.data import (
    FakeAnnotation,
    FakeAttachment,
    FakeAuthority,
    FakeMessage,
    FakeRequest,
    FakeUser,
    SiteCorpus,
)
from corpus.sample_site.render import request_page

KYIV_SUMMER = timezone(timedelta(hours=3))  # the page shows Kyiv time (EEST, +03:00)
BASE = "https://dostup.pravda.com.ua"
SITE_NAME = "Доступ до правди"

MONTHS = ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня", "жовтня",
          "листопада", "грудня")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")

# (English as the template renders it, Ukrainian), longest first where one contains another.
STRINGS = [
    (" - a Freedom of Information request to ", " - запит на інформацію до "),
    ("made this Freedom of Information request to", "зробила цей запит на інформацію до"),
    ("made this Environmental Information Regulations request to", "зробила цей запит на екологічну інформацію до"),
    ("JSON version of New updates for the request", "JSON-версія оновлень запиту"),
    ("New updates for the request", "Оновлення запиту"),
    ("JSON version of this page", "JSON-версія цієї сторінки"),
    ("The request was <strong>partially successful</strong>.", "Запит був <strong>частково задоволений</strong>."),
    ("The request was <strong>successful</strong>.", "Запит був <strong>задоволений</strong>."),
    ("This message has been hidden. There are various reasons why we might have done this, sorry we can't be more "
     "specific here. If you are the requester, then you may sign in to view the message. ",
     "Це повідомлення приховано. Причини можуть бути різні, вибачте, що не можемо сказати більше. "
     "Якщо ви автор запиту, увійдіть, щоб його побачити. "),
    ("This message has been hidden. There are various reasons why we might have done this, sorry we can't be more "
     "specific here. ", "Це повідомлення приховано. Причини можуть бути різні, вибачте, що не можемо сказати більше. "),
    ("This attachment has been hidden. There are various reasons why we might have done this, sorry we can't be more "
     "specific here. ", "Це вкладення приховано. Причини можуть бути різні. "),
    ("if you have any questions.", "якщо маєте запитання."),
    ("contact us", "напишіть нам"),
    ("Please <a", "Будь ласка, <a"),
    ("This file has been erased.", "Цей файл стерто."),
    ("show quoted sections", "показати цитовані фрагменти"),
    ("hide quoted sections", "сховати цитовані фрагменти"),
    ("left an annotation", "залишив коментар"),
    ("Attachments", "вкладення"),
    ("Attachment", "вкладення"),
    (">View<", ">Переглянути<"),
    (">Download<", ">Завантажити<"),
    ("Link to this", "Посилання"),
    (">Report<", ">Поскаржитися<"),
    ("We couldn’t load the mail server logs for this message.", "Не вдалося завантажити журнал поштового сервера."),
    (">Delivered<", ">Доставлено<"),
    ("Sent request to", "Запит знову надіслано до"),
    (" again.", " ще раз."),
    ("Send a followup", "Надіслати уточнення"),
    ("Update the status of this request", "Оновити статус запиту"),
    ("Request an internal review", "Оскаржити відповідь"),
    ("Respond to request", "Відповісти на запит"),
    ("Report this request", "Поскаржитися на запит"),
    ("Add an annotation", "Додати коментар"),
    ("Download a zip file of all correspondence", "Завантажити все листування (zip)"),
    ("View event history details", "Історія подій"),
    ("Collapse all correspondence", "Згорнути листування"),
    ("Expand all correspondence", "Розгорнути листування"),
    (">Actions<", ">Дії<"),
    (">Follow<", ">Стежити<"),
    ("</span> followers", "</span> стежать"),
    ("Did you find this useful?", "Це було корисно?"),
    (" is run by a small charity. Please consider a donation.", " існує завдяки пожертвам."),
    (">Donate<", ">Підтримати<"),
    ("Act on what you've learnt", "Що робити далі"),
    ("Share on social media", "Поширити"),
    ("Requests like this", "Схожі запити"),
    ("More similar requests", "Ще схожі запити"),
    ("Are you the owner of any commercial copyright on this page?", "Ви власник авторських прав на матеріали цієї сторінки?"),
    ("Skip to content", "До змісту"),
    ("Make a request", "Зробити запит"),
    ("Browse requests", "Запити"),
    ("View authorities", "Розпорядники"),
    ("Read blog", "Блог"),
    ("Built by", "Створено"),
    (" is run by a charity.", " — громадський проєкт."),
    ('alt="Attachment"', 'alt="вкладення"'),
    ("Show all attachments", "Показати всі вкладення"),
    ("Show fewer attachments", "Показати менше"),
    ("WhatDoTheyKnow", SITE_NAME),
]
_DATE = re.compile(r">( ?\d{1,2}) (" + "|".join(_EN_MONTHS) + r") (\d{4})<")

# Words a parser leaning on English would look for; none may be left on the page.
ENGLISH_MARKERS = ("made this", "Freedom of Information", "left an annotation", "show quoted sections",
                   "This file has been erased", "closed to new correspondence", "An anonymous user",
                   *(f" {m} " for m in _EN_MONTHS))


_TIME = re.compile(r'<time datetime="([^"]+T[^"]+)" title="[^"]*">[^<]*</time>')
_META_TIME = re.compile(r'(<meta property="article:(?:published|modified)_time" content=")([^"]+)(")')
KYIV = ZoneInfo("Europe/Kyiv")


def _kyiv(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(KYIV)


def _time_tag(m: re.Match) -> str:
    local = _kyiv(m.group(1))
    return (f'<time datetime="{local.isoformat()}" title="{local.strftime("%Y-%m-%d %H:%M:%S %z")}">'
            f"{local.day} {MONTHS[local.month - 1]} {local.year}</time>")


def translate(html: str) -> str:
    """The page in Ukrainian, its times in Kyiv time (the site's zone)."""
    html = _TIME.sub(_time_tag, html)
    html = _META_TIME.sub(lambda m: m.group(1) + _kyiv(m.group(2)).isoformat() + m.group(3), html)
    for en, uk in STRINGS:
        html = html.replace(en, uk)
    html = _DATE.sub(lambda m: f">{int(m.group(1))} {MONTHS[_EN_MONTHS.index(m.group(2))]} {m.group(3)}<", html)
    return html.replace('<html lang="en"', '<html lang="uk"')


def _at(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, month, day, hour, minute, 7, tzinfo=KYIV_SUMMER)


def ukrainian_story() -> tuple[SiteCorpus, FakeRequest]:
    """A thread on a Ukrainian site: request, answer with an erased and a kept attachment, comment."""
    body = FakeAuthority(id=771, url_name="zelenodolska_miska_rada", name="Зеленодольська міська рада")
    user = FakeUser(id=9120, url_name="olena_koval", name="Олена Коваль")
    other = FakeUser(id=9311, url_name="andrii_b", name="Андрій Бондар")
    messages = [
        FakeMessage(41873, "outgoing", 880001, "sent", "Олена Коваль", _at(4, 2, 9, 30),
                    ["Шановні посадові особи!",
                     "Прошу надати копії договорів на ремонт доріг за 2025 рік.",
                     "З повагою,\nОлена Коваль"]),
        FakeMessage(97215, "incoming", 880002, "response", "Відділ звернень", _at(4, 8, 15, 2),
                    ["Шановна пані Олено!", "Надсилаємо копії договорів. Один додаток вилучено на вимогу юриста.",
                     "З повагою,\nВідділ звернень"],
                    quoted=["-----Original Message-----", "Прошу надати копії договорів."],
                    attachments=[
                        FakeAttachment(4, "Договір 17.pdf", "application/pdf", "312K", database_id=3889),
                        FakeAttachment(5, "Кошторис.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                       "40K", erased=True, database_id=3890),
                        FakeAttachment(6, "Акт приймання.csv", "text/csv", "3K", database_id=3891),
                    ],
                    calculated_state="partially_successful"),
    ]
    notes = [FakeAnnotation(5512, 880003, "andrii_b", "Андрій Бондар", _at(4, 9, 20, 45),
                            ["Кошторис можна вимагати окремо: дивіться https://zakon.rada.gov.ua/laws/show/2939-17"])]
    req = FakeRequest(
        id=20817, url_title="dogovory_na_remont_dorig", title="Договори на ремонт доріг",
        authority_url_name=body.url_name, user_url_name=user.url_name, external_name=None, law="foi",
        described_state="partially_successful", created_at=_at(4, 2, 9, 29), updated_at=_at(4, 9, 20, 45),
        messages=messages, annotations=notes,
    )
    corpus = SiteCorpus(authorities={body.url_name: body}, users={user.url_name: user, other.url_name: other},
                        requests=[req], today=date(2026, 5, 1))
    return corpus, req


def ukrainian_page() -> str:
    corpus, req = ukrainian_story()
    return translate(request_page(corpus, req, BASE))
