"""How an invitation names its author when nobody else is listed: their own title, else
as the child's key worker or that person's cover, else by role; never an admin or the
office as "your child's key worker"."""

from __future__ import annotations

from bot.journeys.meetings.invitation import author_role
from bot.runtime.context import Context
from tests import factories as f


def test_the_author_is_named_as_who_they_are(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        cover = f.staff(s, school, name="Mr Cover")
        worker = f.staff(s, school, name="Ms Key", cover_id=cover.id, away=True)
        child = f.student(s, school, worker)
        admin = f.staff(s, school, role="admin", name="Mrs Head")
        office = f.staff(s, school, role="office", name="Olu Office")
        titled = f.staff(s, school, role="admin", role_description="head teacher")
        other = f.staff(s, school, name="Mr Other")
        assert author_role(s, worker, child) == "your child's key worker"
        assert author_role(s, cover, child) == "covering for your child's key worker"
        assert author_role(s, admin, child) == "from the school's leadership team"
        assert author_role(s, office, child) == "from the school office"
        assert author_role(s, titled, child) == "head teacher"
        assert author_role(s, other, child) == "a teacher at the school"
        assert author_role(s, worker, None) == "a teacher at the school"
        worker.away = False  # back at school: the named cover is not covering now
        assert author_role(s, cover, child) == "a teacher at the school"
