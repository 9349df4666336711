"""Extension objects, created unbound; ``create_app`` binds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
# The class every model derives from: Flask-SQLAlchemy's db.Model, made at run time from Base;
# type checkers see Base itself.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()


def _client_key() -> str:
    # Imported late: the limiter's key needs the keyring, which lives on the app.
    from app.access import hashed_client_key

    return hashed_client_key()


limiter = Limiter(key_func=_client_key)
