"""Drive an `openai` endpoint through the qcc proxy with the official Anthropic Python SDK:
a tool round trip (tool_use -> tool_result -> answer) whole and streamed, reasoning as a
thinking block, and count_tokens. ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY come from the
environment. Prints one line per check."""
import json

import anthropic

client = anthropic.Anthropic(max_retries=0)
tools = [{
    "name": "read_file",
    "description": "Read a file",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                     "required": ["path"]},
}]
ask = [{"role": "user", "content": "What is in src/main.rs?"}]

msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, tools=tools, messages=ask)
kinds = [b.type for b in msg.content]
call = next(b for b in msg.content if b.type == "tool_use")
print("WHOLE", msg.model, msg.stop_reason, ",".join(kinds), call.name, json.dumps(call.input))

result = ask + [
    {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call.id, "content": "fn main() {}"}]},
]
with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, tools=tools,
                            messages=result) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
call = next(b for b in final.content if b.type == "tool_use")
kinds = [b.type for b in final.content]
print("STREAM", final.model, final.stop_reason, ",".join(kinds), call.name,
      json.dumps(call.input), "|", text)
print("USAGE", final.usage.input_tokens, final.usage.cache_read_input_tokens,
      final.usage.output_tokens)

count = client.messages.count_tokens(model="claude-sonnet-4-5", messages=ask)
print("COUNT", count.input_tokens)
