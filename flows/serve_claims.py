"""The claim that one `veille serve` serves its deployments on a Prefect server of the user's:
a Prefect variable made with one create (:class:`Claim`, :func:`claim_deployments`), and the
check that no other runner or work pool serves deployments of the same names
(:func:`check_not_served_elsewhere`); several `veille serve`, of several databases, share one
server by giving each a name of its own (VEILLE_INSTANCE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flows import serve_stop


class ServedElsewhere(Exception):
    """Another `veille serve`, of another database, serves deployments of the same names on
    the same Prefect server; or they are a work pool's."""


#: Seconds since a runner last asked for a deployment's runs within which that deployment is
#: served: Prefect's own, past which its UI shows the deployment Not Ready (a runner asks
#: every ``PREFECT_RUNNER_POLL_FREQUENCY`` seconds, 10). A claim (:class:`Claim`) not renewed
#: within as long is a dead veille serve's.
SERVED_WITHIN_SECONDS = 60.0
#: Seconds between two renewals of a claim.
CLAIM_RENEW_SECONDS = 10.0
#: The Prefect variable's tag on a claim.
CLAIM_TAG = "veille-serve"


def claim_name(instance: str | None) -> str:
    """The name of the Prefect variable claiming the deployments of ``instance`` (VEILLE_INSTANCE):
    ``veille-serve``, or ``veille-serve_`` and the name, each character other than a lower-case
    letter, a digit or "-" written "_" and its code in hex (Prefect's variable names take
    those alone; "Fr" and "fr" are two instances, two claims)."""
    if not instance:
        return CLAIM_TAG
    return f"{CLAIM_TAG}_" + "".join(
        c if c.isdigit() or c == "-" or "a" <= c <= "z" else f"_{ord(c):02x}" for c in instance
    )


def _refusal(other: str, names: str, since: str) -> ServedElsewhere:
    from prefect.settings import PREFECT_API_URL

    return ServedElsewhere(
        f"another veille serve, of the database {other}, serves {names} on the Prefect server at"
        f" {PREFECT_API_URL.value()} ({since}): this one would take them over, and pause them when"
        " it stops; give each veille serve of this server a name of its own with VEILLE_INSTANCE"
        " (its deployments are then named poll-and-ingest@NAME, ...), or stop the other one first"
    )


@dataclass
class Claim:
    """This `veille serve`'s claim on its deployments' names on a Prefect server of the user's:
    a Prefect variable (:func:`claim_name`) holding its database's tag, made with one create,
    which the server refuses (409) when the name is taken. Two `veille serve` starting together
    cannot both make it: one serves, the other reads the claim and is refused
    (:func:`claim_deployments`). Renewed every :data:`CLAIM_RENEW_SECONDS` from a thread of its
    own (the main loop stays free for the watch and the signals); deleted when `veille serve`
    stops; one not renewed within :data:`SERVED_WITHIN_SECONDS` is a dead one's, taken over."""

    name: str
    value: dict[str, str]
    id: Any
    #: the message to stop with when another veille serve took the claim meanwhile
    lost: str | None = None
    #: who took it then: "another veille serve, of the database ... (its holder)"
    taken_by: str | None = None
    _stop: Any = field(default=None, repr=False)
    _released: bool = field(default=False, repr=False)

    def keep(self) -> None:
        """Renew the claim every :data:`CLAIM_RENEW_SECONDS` until :meth:`release`."""
        import contextvars
        import threading

        self._stop = threading.Event()
        context = contextvars.copy_context()  # the settings in force (the API URL) go along
        threading.Thread(
            target=context.run, args=(self._renew_loop,), name="veille-claim", daemon=True
        ).start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(CLAIM_RENEW_SECONDS):
            try:
                self.renew()
            except Exception:  # noqa: BLE001, S112 - the server does not answer: the watch says so
                continue
            if self.lost is not None:
                return

    def renew(self) -> None:
        """Renew the claim (its ``updated`` time on the server); made again when it was deleted;
        :attr:`lost` when another veille serve holds it by then."""
        import httpx
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import VariableCreate
        from prefect.exceptions import ObjectAlreadyExists

        from flows.deployments import DATABASE_TAG

        value = {**self.value, "renewed": _now_text()}
        with get_client(sync_client=True) as client:
            try:
                client.request("PATCH", "/variables/{id}", path_params={"id": self.id}, json={"value": value})
                return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise
            try:  # taken over as a dead one's (its server did not answer meanwhile)
                self.id = client.create_variable(
                    VariableCreate(name=self.name, value=value, tags=[CLAIM_TAG])
                ).id
                return
            except ObjectAlreadyExists:
                held = client.read_variable_by_name(self.name)
        holder = held.value if held is not None and isinstance(held.value, dict) else {}
        other = str(holder.get("database", "?")).removeprefix(DATABASE_TAG)
        self.taken_by = f"another veille serve, of the database {other} ({holder.get('holder', '?')})"
        self.lost = (
            f"veille: error: {self.taken_by}, took over {self.value['deployments']} while this one's"
            " claim on them was not renewed: both would run the same deployments, so this one"
            " stops; give each veille serve of this server a name of its own with VEILLE_INSTANCE"
        )

    def release(self) -> None:
        """Delete the claim (by its id: a claim another veille serve made since stays), within
        :data:`flows.serve_stop.PAUSE_SECONDS`."""
        import contextlib
        import contextvars
        import threading

        if self._released:
            return
        self._released = True
        if self._stop is not None:
            self._stop.set()

        def delete() -> None:
            from prefect.client.orchestration import get_client

            with contextlib.suppress(Exception), get_client(sync_client=True) as client:
                client.request("DELETE", "/variables/{id}", path_params={"id": self.id})

        context = contextvars.copy_context()
        deleter = threading.Thread(target=context.run, args=(delete,), daemon=True)
        deleter.start()
        deleter.join(serve_stop.PAUSE_SECONDS)


def _now_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def claim_deployments(deployments: list[Any], database_url: str) -> Claim:
    """:class:`Claim` this database's deployments' names on the Prefect server, or
    :class:`ServedElsewhere` when another `veille serve`, of another database, holds a claim on
    them renewed within :data:`SERVED_WITHIN_SECONDS` (a database on localhost or a local
    socket is another one when the claim is another machine's, though its tag is the same).
    A claim of this database's is a `veille serve` of it that died (the database's lock says
    none serves it): taken over, as is a stale one, by deleting it by its id and making this
    one's (two that found it stale: one makes it, the other reads it and is refused)."""
    import os
    import socket
    from datetime import UTC, datetime

    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate
    from prefect.exceptions import ObjectAlreadyExists

    from flows.deployments import DATABASE_TAG, database_tag, local_database
    from monitors.settings import get_settings

    names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
    mine = database_tag(database_url)
    machine = socket.gethostname()
    value = {
        "database": mine,
        "holder": f"veille serve, pid {os.getpid()} on {machine}",
        "machine": machine,
        "deployments": names,
        "renewed": _now_text(),
    }
    name = claim_name(get_settings().instance)
    with get_client(sync_client=True) as client:
        for _ in range(3):
            try:
                made = client.create_variable(VariableCreate(name=name, value=value, tags=[CLAIM_TAG]))
            except ObjectAlreadyExists:
                pass
            else:
                claim = Claim(name, value, made.id)
                serve_stop.CLAIMS.append(claim)
                return claim
            held = client.read_variable_by_name(name)
            if held is None:  # released meanwhile
                continue
            holder = held.value if isinstance(held.value, dict) else {}
            age = (
                (datetime.now(UTC) - held.updated).total_seconds() if held.updated else SERVED_WITHIN_SECONDS
            )
            theirs = str(holder.get("database", "?"))
            # the same tag on another machine is another database when the tag names a local one
            there = str(holder.get("machine") or machine)
            if theirs == mine and local_database(database_url) and there != machine:
                theirs = f"{theirs} on {there}"
            if theirs != mine and age < SERVED_WITHIN_SECONDS:
                other = theirs.removeprefix(DATABASE_TAG)
                since = f"{holder.get('holder', 'its claim')}, renewed {max(age, 0):.0f} s ago"
                raise _refusal(other, names, since)
            try:
                client.request("DELETE", "/variables/{id}", path_params={"id": held.id})
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:  # deleted by another one meanwhile: try again
                    raise
    raise _refusal("?", names, "its claim changed hands three times as this one read it")


def check_not_served_elsewhere(deployments: list[Any]) -> list[str]:
    """:class:`ServedElsewhere` when deployments of these names on the Prefect server are
    served by another runner: another `veille serve`, of another database (tagged with it),
    or one whose deployments carry no database tag (an older veille serve, a ``.serve()`` of
    the user's) (active, asked for by a runner within :data:`SERVED_WITHIN_SECONDS`);
    registering them would take them over, the same ids, so that both runners would run each
    other's runs on their own databases, and this one's stop would pause the other's
    schedules. Also when one is a work pool's (an older prefect.yaml's names, a plain
    ``prefect deploy``): registering it would rewrite it (entrypoint, parameters, tags), still
    in the pool, and both this runner and the pool's workers would take its runs.
    Deployments of a veille serve that stopped (paused), or died (not asked for since), or of
    this database, are taken over; the names of those without a database tag are returned,
    for `veille serve` to say it took them over."""
    from datetime import UTC, datetime

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    from flows.deployments import DATABASE_TAG

    taken: list[str] = []
    pooled: list[str] = []
    untagged: list[str] = []
    other, since = "", 0.0
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                found = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if found.work_pool_name:
                pooled.append(f"{name} (work pool {found.work_pool_name})")
                continue
            owner = next((t for t in found.tags if t.startswith(DATABASE_TAG)), None)
            if owner is not None and owner in deployment.tags:
                continue
            age = (datetime.now(UTC) - found.last_polled).total_seconds() if found.last_polled else None
            if found.paused or age is None or age >= SERVED_WITHIN_SECONDS:
                if owner is None:
                    untagged.append(name)
                continue
            taken.append(name)
            other, since = (owner or "").removeprefix(DATABASE_TAG), age
    url = PREFECT_API_URL.value()
    if pooled:
        names = ", ".join(p.split(" (")[0] for p in pooled)
        raise ServedElsewhere(
            f"{', '.join(pooled)} on the Prefect server at {url}: a work pool's deployments, which"
            " its workers run; veille serve would rewrite them as its own and run them beside the workers."
            f" Delete them first (`prefect deployment delete NAME`, for {names}) to serve them, or"
            " give this veille serve other names with VEILLE_INSTANCE (poll-and-ingest@NAME, ...);"
            " prefect.yaml's deployments are now named *-pool (`veille deploy`)"
        )
    if taken and not other:
        raise ServedElsewhere(
            f"{', '.join(taken)} on the Prefect server at {url}: no database tag, and a runner"
            f" asked for their runs {max(since, 0):.0f} s ago: an older veille serve, or a"
            " runner of your own, serves them, of a database veille cannot tell; this one would"
            " take them over, and pause them when it stops; stop that one first, or give this"
            " veille serve other names with VEILLE_INSTANCE (poll-and-ingest@NAME, ...)"
        )
    if taken:
        raise _refusal(other, ", ".join(taken), f"its runner asked for their runs {max(since, 0):.0f} s ago")
    return untagged
