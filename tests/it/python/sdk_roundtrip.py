"""Drive the qcc proxy with the official Anthropic Python SDK (ANTHROPIC_BASE_URL and
ANTHROPIC_API_KEY come from the environment). Prints one line per check."""
import anthropic

client = anthropic.Anthropic(max_retries=0)
messages = [{"role": "user", "content": "Say hello"}]

msg = client.messages.create(model="claude-test", max_tokens=32, messages=messages)
print("NONSTREAM", msg.content[0].text, msg.stop_reason, msg.usage.output_tokens)

with client.messages.stream(model="claude-test", max_tokens=32, messages=messages) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
print("STREAM", text, final.stop_reason)

count = client.messages.count_tokens(model="claude-test", messages=messages)
print("COUNT", count.input_tokens)

try:
    client.messages.create(model="claude-test", max_tokens=32, messages=messages)
except anthropic.RateLimitError as e:
    print("RATELIMIT", e.status_code, e.response.headers.get("retry-after"))
