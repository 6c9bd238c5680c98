import csv
import http.client

import six
from six.moves import range
from six.moves.urllib.parse import urlparse
from st2actions.runners.pythonrunner import Action as OldAction
from st2common.runners.base_action import Action as BaseAction

import lib.helper
from helper import shout
from packlib import origin


class HttpLike(BaseAction):
    def run(self):
        return {
            "csv_file": csv.__file__,
            "http_client": http.client.__name__,
            "six_py3": six.PY3,
            "text_type": six.text_type.__name__,
            "range": list(range(3)),
            "netloc": urlparse("https://example.invalid/x").netloc,
            "same_action": OldAction is BaseAction,
            "helper": lib.helper.shout("a") + shout("b"),
            "pack_lib": origin(),
        }


if __name__ == "__main__":
    print("DEMO BLOCK RAN")
    raise SystemExit(3)
