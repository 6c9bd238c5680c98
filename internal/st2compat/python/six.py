"""attune's own subset of the `six` Python 2/3 compatibility module.

StackStorm's environment puts `six` on every pack's path, so packs import it
without listing it. This module provides the names real packs use, for
Python 3 only. A pack that installs the real `six` in its virtualenv gets
that one instead: the wrapper puts this directory after site-packages.
"""

import builtins
import functools
import io
import itertools
import operator
import sys
import types

__version__ = "1.16.0"

PY2 = False
PY3 = True
PY34 = sys.version_info[0:2] >= (3, 4)

string_types = (str,)
integer_types = (int,)
class_types = (type,)
text_type = str
binary_type = bytes
MAXSIZE = sys.maxsize

callable = builtins.callable
get_unbound_function = lambda unbound: unbound  # noqa: E731
create_bound_method = types.MethodType
Iterator = object
next = builtins.next
advance_iterator = builtins.next
unichr = chr
byte2int = operator.itemgetter(0)
indexbytes = operator.getitem
iterbytes = iter
StringIO = io.StringIO
BytesIO = io.BytesIO
print_ = getattr(builtins, "print")
exec_ = getattr(builtins, "exec")


def int2byte(i):
    return bytes((i,))


def get_method_function(meth):
    return meth.__func__


def get_method_self(meth):
    return meth.__self__


def get_function_closure(fun):
    return fun.__closure__


def get_function_code(fun):
    return fun.__code__


def get_function_defaults(fun):
    return fun.__defaults__


def get_function_globals(fun):
    return fun.__globals__


def iterkeys(d, **kw):
    return iter(d.keys(**kw))


def itervalues(d, **kw):
    return iter(d.values(**kw))


def iteritems(d, **kw):
    return iter(d.items(**kw))


def iterlists(d, **kw):
    return iter(d.lists(**kw))


viewkeys = operator.methodcaller("keys")
viewvalues = operator.methodcaller("values")
viewitems = operator.methodcaller("items")


def b(s):
    return s.encode("latin-1")


def u(s):
    return s


def ensure_binary(s, encoding="utf-8", errors="strict"):
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode(encoding, errors)
    raise TypeError("not expecting type '%s'" % type(s))


def ensure_str(s, encoding="utf-8", errors="strict"):
    if type(s) is str:
        return s
    if isinstance(s, bytes):
        return s.decode(encoding, errors)
    if isinstance(s, str):
        return s
    raise TypeError("not expecting type '%s'" % type(s))


def ensure_text(s, encoding="utf-8", errors="strict"):
    if isinstance(s, bytes):
        return s.decode(encoding, errors)
    if isinstance(s, str):
        return s
    raise TypeError("not expecting type '%s'" % type(s))


def reraise(tp, value, tb=None):
    try:
        if value is None:
            value = tp()
        if value.__traceback__ is not tb:
            raise value.with_traceback(tb)
        raise value
    finally:
        value = None
        tb = None


def raise_from(value, from_value):
    try:
        raise value from from_value
    finally:
        value = None


def with_metaclass(meta, *bases):
    """Create a base class with a metaclass."""

    class metaclass(type):
        def __new__(cls, name, this_bases, d):
            resolved = types.resolve_bases(bases)
            if resolved is not bases:
                d["__orig_bases__"] = bases
            return meta(name, resolved, d)

        @classmethod
        def __prepare__(cls, name, this_bases):
            return meta.__prepare__(name, bases)

    return type.__new__(metaclass, "temporary_class", (), {})


def add_metaclass(metaclass):
    """Class decorator for creating a class with a metaclass."""

    def wrapper(cls):
        orig_vars = cls.__dict__.copy()
        slots = orig_vars.get("__slots__")
        if slots is not None:
            if isinstance(slots, str):
                slots = [slots]
            for slots_var in slots:
                orig_vars.pop(slots_var)
        orig_vars.pop("__dict__", None)
        orig_vars.pop("__weakref__", None)
        if hasattr(cls, "__qualname__"):
            orig_vars["__qualname__"] = cls.__qualname__
        return metaclass(cls.__name__, cls.__bases__, orig_vars)

    return wrapper


def python_2_unicode_compatible(klass):
    return klass


def assertCountEqual(self, *args, **kwargs):
    return self.assertCountEqual(*args, **kwargs)


def assertRaisesRegex(self, *args, **kwargs):
    return self.assertRaisesRegex(*args, **kwargs)


def assertRegex(self, *args, **kwargs):
    return self.assertRegex(*args, **kwargs)


wraps = functools.wraps


class _LazyModule(types.ModuleType):
    """A module whose attributes are other modules' attributes, imported on use."""

    def __init__(self, name, attrs):
        super().__init__(name)
        self.__dict__["_attrs"] = attrs

    def __getattr__(self, attr):
        try:
            module, name = self.__dict__["_attrs"][attr]
        except KeyError:
            raise AttributeError("module %r has no attribute %r" % (self.__name__, attr)) from None
        mod = __import__(module, fromlist=["_"])
        value = getattr(mod, name) if name else mod
        setattr(self, attr, value)
        return value

    def __dir__(self):
        return sorted(self.__dict__["_attrs"])


_moves = {
    "builtins": ("builtins", None),
    "configparser": ("configparser", None),
    "copyreg": ("copyreg", None),
    "http_client": ("http.client", None),
    "http_cookiejar": ("http.cookiejar", None),
    "http_cookies": ("http.cookies", None),
    "html_entities": ("html.entities", None),
    "html_parser": ("html.parser", None),
    "queue": ("queue", None),
    "reprlib": ("reprlib", None),
    "socketserver": ("socketserver", None),
    "_thread": ("_thread", None),
    "email_mime_multipart": ("email.mime.multipart", None),
    "email_mime_text": ("email.mime.text", None),
    "email_mime_base": ("email.mime.base", None),
    "BaseHTTPServer": ("http.server", None),
    "SimpleHTTPServer": ("http.server", None),
    "CGIHTTPServer": ("http.server", None),
    "cPickle": ("pickle", None),
    "xmlrpc_client": ("xmlrpc.client", None),
    "xmlrpc_server": ("xmlrpc.server", None),
    "cStringIO": ("io", "StringIO"),
    "StringIO": ("io", "StringIO"),
    "UserDict": ("collections", "UserDict"),
    "UserList": ("collections", "UserList"),
    "UserString": ("collections", "UserString"),
    "filter": ("builtins", "filter"),
    "filterfalse": ("itertools", "filterfalse"),
    "input": ("builtins", "input"),
    "intern": ("sys", "intern"),
    "map": ("builtins", "map"),
    "range": ("builtins", "range"),
    "xrange": ("builtins", "range"),
    "zip": ("builtins", "zip"),
    "zip_longest": ("itertools", "zip_longest"),
    "reduce": ("functools", "reduce"),
    "reload_module": ("importlib", "reload"),
    "shlex_quote": ("shlex", "quote"),
    "getcwd": ("os", "getcwd"),
    "getcwdb": ("os", "getcwdb"),
    "getoutput": ("subprocess", "getoutput"),
    "collections_abc": ("collections.abc", None),
}

_urllib_parse = {
    name: ("urllib.parse", name)
    for name in (
        "ParseResult", "SplitResult", "parse_qs", "parse_qsl", "urldefrag", "urljoin",
        "urlparse", "urlsplit", "urlunparse", "urlunsplit", "quote", "quote_plus",
        "unquote", "unquote_plus", "unquote_to_bytes", "urlencode", "splitquery",
        "splittag", "splituser", "splitvalue", "uses_fragment", "uses_netloc",
        "uses_params", "uses_query", "uses_relative",
    )
}
_urllib_error = {name: ("urllib.error", name) for name in ("URLError", "HTTPError", "ContentTooShortError")}
_urllib_request = {
    name: ("urllib.request", name)
    for name in (
        "urlopen", "install_opener", "build_opener", "pathname2url", "url2pathname",
        "getproxies", "Request", "OpenerDirector", "HTTPDefaultErrorHandler",
        "HTTPRedirectHandler", "HTTPCookieProcessor", "ProxyHandler", "BaseHandler",
        "HTTPPasswordMgr", "HTTPPasswordMgrWithDefaultRealm", "AbstractBasicAuthHandler",
        "HTTPBasicAuthHandler", "ProxyBasicAuthHandler", "AbstractDigestAuthHandler",
        "HTTPDigestAuthHandler", "ProxyDigestAuthHandler", "HTTPHandler", "HTTPSHandler",
        "FileHandler", "FTPHandler", "CacheFTPHandler", "UnknownHandler",
        "HTTPErrorProcessor", "urlretrieve", "urlcleanup", "proxy_bypass",
    )
}
_urllib_response = {name: ("urllib.response", name) for name in ("addbase", "addclosehook", "addinfo", "addinfourl")}
_urllib_robotparser = {"RobotFileParser": ("urllib.robotparser", "RobotFileParser")}

moves = _LazyModule(__name__ + ".moves", _moves)
_urllib = types.ModuleType(__name__ + ".moves.urllib")
_urllib.parse = _LazyModule(__name__ + ".moves.urllib.parse", _urllib_parse)
_urllib.error = _LazyModule(__name__ + ".moves.urllib.error", _urllib_error)
_urllib.request = _LazyModule(__name__ + ".moves.urllib.request", _urllib_request)
_urllib.response = _LazyModule(__name__ + ".moves.urllib.response", _urllib_response)
_urllib.robotparser = _LazyModule(__name__ + ".moves.urllib.robotparser", _urllib_robotparser)
moves.__dict__["urllib"] = _urllib
moves.__dict__["urllib_parse"] = _urllib.parse
moves.__dict__["urllib_error"] = _urllib.error
moves.__path__ = []  # a package, so "from six.moves.urllib.parse import x" works

# "import six.moves.urllib.parse" and "from six.moves import x" go through sys.modules.
sys.modules[__name__ + ".moves"] = moves
sys.modules[__name__ + ".moves.urllib"] = _urllib
sys.modules[__name__ + ".moves.urllib.parse"] = _urllib.parse
sys.modules[__name__ + ".moves.urllib.error"] = _urllib.error
sys.modules[__name__ + ".moves.urllib.request"] = _urllib.request
sys.modules[__name__ + ".moves.urllib.response"] = _urllib.response
sys.modules[__name__ + ".moves.urllib.robotparser"] = _urllib.robotparser
sys.modules[__name__ + ".moves.urllib_parse"] = _urllib.parse
sys.modules[__name__ + ".moves.urllib_error"] = _urllib.error
_urllib.__path__ = []

del itertools
