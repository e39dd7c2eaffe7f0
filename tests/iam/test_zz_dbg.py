import json, sys
sys.path.insert(0, "/work/main/tests/iam")
from test_least_privilege import *  # noqa
from rollouts_cli.local.faults import faults

def test_dbg(local_engine):
    roles = StackRoles.load(local_engine.session(), local_engine.endpoint, local_engine.info.stack_name)
    plane = ControlPlane(local_engine, roles)
    engine = local_engine
    with faults.recording() as calls:
        target = Target(engine, _name("lp-tagged"), second=None, tags={"rollouts:alias": "live", "rollouts:strategy": "AllAtOnce"})
        update_code(target.lam, target.name, V2)
        event = json.loads(CLOUDTRAIL_UPDATE.read_text())
        detail = event["detail"]
        sha = target.lam.get_function(FunctionName=target.name)["Configuration"]["CodeSha256"]
        detail["requestParameters"]["functionName"] = target.name
        detail["responseElements"].update(functionName=target.name, functionArn=target.arn, codeSha256=sha)
        plane.put_event(event["source"], event["detail-type"], detail, "default")
        Rollouts(engine).wait(plane.started_for(target.name))
    for c in calls:
        if "Start" in c.function or c.operation == "StartExecution": print(c)
