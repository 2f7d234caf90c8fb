"""A generated corpus of realistic staff notes naming children, families, staff, homes and numbers.

Each note is about one child and, as real notes do, also names classmates (first name,
full name, possessive, shouted or lower case), a member of staff, a parent, a phone
number, an email, a link, a home address with its postcode, and sometimes the child's
pupil number or the school's reference. Seeded, so a failure can be replayed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FIRST = ["Zofia", "Yusuf", "Ayaan", "Amelia", "Oliver", "Aisha", "Mohammed", "Olivia", "Noah",
         "Isla", "Ali", "Chloe", "Kacper", "Fatima", "Leo", "Maja", "Ibrahim", "Ava", "Jakub",
         "Sofia", "Hamza", "Freya", "Tomasz", "Amira", "Oscar", "Lena", "Musa", "Poppy", "Dawid",
         "Zainab", "Theo", "Hana", "Bilal", "Evie", "Ioana", "Kwame", "Nia", "Mateo", "Priya",
         "Arjun", "Siobhan", "Aoife", "Chidi", "Emre", "Elif", "Grace", "Will", "Rose", "Harvey",
         "Layla", "Rafael", "Ines", "Mei", "Jun", "Darius", "Yara", "Omar", "Ruby", "Finn"]
LAST = ["Kowalska", "Haddad", "Khan", "Patel", "Nowak", "Okafor", "Hussain", "Smith", "Jones",
        "Begum", "Ahmed", "Wiśniewski", "O'Brien", "Murphy", "Yilmaz", "Demir", "Mensah",
        "Popescu", "Nguyen", "Chen", "Singh", "Kaur", "Ali", "Rahman", "Ionescu", "Silva",
        "Santos", "Abdi", "Farah", "Kaczmarek", "Taylor", "MacLeod", "Evans", "Hughes", "Mirza",
        "Osei", "Adeyemi", "Novak", "Horvat", "Kovács"]
STAFF = ["Ms Shah", "Mr Davies", "Mrs Okonjo", "Miss Wright", "Mr Kaminski", "Ms Achterberg",
         "Mrs Fernandes", "Mr Oyelaran", "Dr Lindqvist", "Ms Tremaine"]
STREETS = ["Elm Road", "Station Road", "Church Street", "Victoria Avenue", "Mill Lane",
           "St Mary's Close", "Beech Grove", "Albert Terrace", "Willow Crescent", "Oak Drive",
           "Kingsley Gardens", "Harbour View", "Brook Walk", "Castle Hill", "Queens Park"]
POSTCODES = ["NW1 4AB", "E17 6QP", "M14 5RT", "B11 2JX", "LS8 3DN", "BS5 9HG", "SW1A 1AA",
             "EC1V 9BD", "CF24 3XY", "G41 2LB", "EH6 7QS", "L7 0JR", "N169PL", "se15 4ud"]

TEMPLATES = [
    "{child} helped {other} and {other2} with reading today. {staff} was so proud. Call me on "
    "{phone} or write to {email}, or see {link}. {parent} can pick up the certificate at "
    "{address}, {postcode}.",
    "Great news about {possessive} maths: {child} explained a method to {other_full}. "
    "{staff} says well done! Questions: {phone}.",
    "{CHILD} WON THE SPELLING BEE! {other} came second. Photos at {link}",
    "Dear {parent}, {child} and {other_full} will perform on Friday. Tickets from {email} "
    "or {phone}.",
    "Just a note from {staff}: {child} was kind to {lower_other} at lunch when {other2} fell "
    "over. Please call {phone} if you have questions.",
    "{possessive} coat was found near {address}. Please collect it from the office, or "
    "ring {phone}.",
    "{child} (UPN {upn}) has moved to {staff}'s group with {other_full} and {other2}.",
    "Thank you {parent}! {child} brought in the cakes. The post goes to {address} "
    "{postcode} today.",
    "{other_full}'s mum asked whether {child} can come to the party at {address}, "
    "{postcode}. Her number is {phone}.",
    "Reading record for {ref}: {child} read with {staff} and {lower_child} then read to "
    "{other}. More at {link}.",
    "{child} and {OTHER} built a volcano. {staff} emailed the photos to {email}.",
    "Please tell {parent} that {possessive} swimming kit is at {address}, {postcode}, "
    "with {other_full}'s family. Call {phone}.",
]


@dataclass(frozen=True, slots=True)
class Person:
    """A roster entry: the child and one guardian."""

    ref: str
    first: str
    last: str
    parent_first: str
    parent_last: str
    upn: str

    @property
    def full(self) -> str:
        """First and last name."""
        return f"{self.first} {self.last}"


@dataclass
class Corpus:
    """The roster the notes were written about, and the notes."""

    people: list[Person]
    staff: list[str]
    notes: list[tuple[Person, str]] = field(default_factory=list)
    #: phone numbers, emails, links, addresses, postcodes and pupil numbers used
    secrets: set[str] = field(default_factory=set)


def _upn(rng: random.Random) -> str:
    return rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + "".join(
        rng.choice("0123456789") for _ in range(11)) + rng.choice("0123456789ABCDEFGH")


def build(notes: int = 240, seed: int = 16) -> Corpus:
    """A roster of children and guardians and `notes` notes about them."""
    rng = random.Random(seed)
    people: list[Person] = []
    pairs = {(a, b) for a in FIRST for b in LAST}
    for n, (first, last) in enumerate(sorted(rng.sample(sorted(pairs), 120))):
        people.append(Person(f"S{1000 + n}", first, last, rng.choice(FIRST), last, _upn(rng)))
    corpus = Corpus(people, STAFF)
    for n in range(notes):
        child = people[n % len(people)]  # two notes a child: within any weekly cap
        other, other2 = rng.sample([p for p in people if p is not child], 2)
        phone = rng.choice(["07700 9{:05d}", "+44 7700 9{:05d}", "020 7946 {:04d}",
                            "(0161) 496 {:04d}", "07700-9{:05d}"]).format(rng.randrange(9999))
        email = f"{child.parent_first.lower()}.{child.last.lower().replace(chr(39), '')}" \
                f"@{rng.choice(['gmail.com', 'outlook.com', 'school.example.org'])}"
        link = rng.choice(["https://school.example.org/photos/{}", "www.example.org/p/{}",
                           "school.example.org/plan/{}"]).format(rng.randrange(999))
        address = f"{rng.randrange(1, 240)}{rng.choice(['', '', 'a'])} {rng.choice(STREETS)}"
        postcode = rng.choice(POSTCODES)
        values = {
            "child": child.first, "CHILD": child.first.upper(), "lower_child": child.first.lower(),
            "possessive": f"{child.first}'s", "other": other.first, "OTHER": other.full.upper(),
            "other_full": other.full, "lower_other": other.full.lower(), "other2": other2.first,
            "staff": rng.choice(STAFF), "parent": f"{child.parent_first} {child.parent_last}",
            "phone": phone, "email": email, "link": link, "address": address,
            "postcode": postcode, "upn": child.upn, "ref": child.ref,
        }
        note = rng.choice(TEMPLATES).format(**values)
        corpus.notes.append((child, note))
        corpus.secrets |= {phone, email, link, address, postcode}
        if "UPN" in note:
            corpus.secrets.add(child.upn)
        if child.ref in note:
            corpus.secrets.add(child.ref)
    return corpus
