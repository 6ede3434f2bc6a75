"""``alphaplus artifacts gc``: remove artifact files no registered version points to."""

from __future__ import annotations

import typer

from alphaplus.cli.common import console, print_json, run, shown

app = typer.Typer(help="Artifacts: housekeeping of the content-addressed model files.", no_args_is_help=True)


@app.command("gc")
def gc(
    older_than_hours: float = typer.Option(24.0, min=0.0, help="Only files untouched for this long."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed, remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Remove files left by failed or interrupted registrations (never a registered version's file)."""
    import time

    from alphaplus.registry.service import Registry

    async def go() -> tuple[Registry, set[str]]:
        registry = await Registry.open()
        return registry, await registry.artifact_paths()

    registry, referenced = run(go)
    store = registry.artifacts
    root = store.location
    listed = store.unreferenced(referenced, older_than_seconds=older_than_hours * 3600, now=time.time())
    if not dry_run:
        for path in listed:
            store.remove(path)
    if as_json:
        print_json({"root": str(root), "dry_run": dry_run, "files": listed})
        return
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(listed)} unreferenced file(s) under {shown(root)}")
    for name in listed:
        console.print(f"  {shown(name)}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="artifacts")
