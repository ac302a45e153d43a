def handler(event, context):
    cc = context.client_context
    remaining = context.get_remaining_time_in_millis()
    return {
        "request_id_set": bool(context.aws_request_id),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_is_str": isinstance(context.memory_limit_in_mb, str),
        "log_group_name": context.log_group_name,
        "log_stream_set": bool(context.log_stream_name),
        "arn": context.invoked_function_arn,
        "identity": [
            context.identity.cognito_identity_id,
            context.identity.cognito_identity_pool_id,
        ],
        "tenant_id": context.tenant_id,
        "remaining_ok": 0 < remaining <= 300_000,
        "client_context": None
        if cc is None
        else {
            "custom": cc.custom,
            "env": cc.env,
            "client": None
            if cc.client is None
            else [cc.client.installation_id, cc.client.app_title, cc.client.app_package_name],
        },
    }
