from st2common.runners.base_action import Action


class KV(Action):
    def run(self, phase):
        svc = self.action_service
        seen = {}
        if phase == "write":
            seen["set"] = svc.set_value("greeting", "hi")
            seen["set_counter"] = svc.set_value("counter", 42)
            seen["get"] = svc.get_value("greeting")
            seen["counter"] = svc.get_value("counter")
            seen["absent"] = svc.get_value("never_set")
            seen["list"] = sorted(kv.name for kv in svc.list_values(prefix="g"))
            seen["list_all"] = sorted(kv.name for kv in svc.list_values())
            seen["system"] = svc.get_value("shared_setting", local=False)
            seen["list_system"] = [(kv.name, kv.value) for kv in svc.list_values(local=False)]
            seen["secret_hidden"] = svc.get_value("shared_secret", local=False)
            seen["secret"] = svc.get_value("shared_secret", local=False, decrypt=True)
            try:
                svc.set_value("global_write", "x", local=False)
                seen["global_write"] = "allowed"
            except Exception as e:
                seen["global_write"] = str(e)
            seen["ttl"] = svc.set_value("expiring", "soon gone", ttl=1)
            seen["ttl_get"] = svc.get_value("expiring")
            seen["lasting"] = svc.set_value("lasting", "stays", ttl=3600)
        else:
            seen["delete"] = svc.delete_value("greeting")
            seen["get"] = svc.get_value("greeting")
            seen["delete_again"] = svc.delete_value("greeting")
        return seen
