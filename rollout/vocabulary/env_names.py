"""The name of an environment variable, as a cohort opts a user command in to one."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
"""The name of an environment variable (a security or hook command may be given more of
them); a pattern, so nothing that is not a name (``A=B``, a space) reaches a child."""
