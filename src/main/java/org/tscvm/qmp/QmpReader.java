package org.tscvm.qmp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.tscvm.json.Json;

/**
 * Splits a client's byte stream into JSON texts, as QEMU's JSON streamer does: a message ends
 * where its outermost bracket closes (or, for a bare scalar, at the next delimiter), newlines
 * or not. Bounded: a message longer than {@link #MAX_MESSAGE_BYTES} or nested deeper than
 * {@link Json#MAX_DEPTH} is skipped to its end without being stored and reported as one
 * error. A control character other than tab, CR and LF (or the byte 0xFF) is a lexical error
 * that discards the message under way: QMP's way for a client to put the parser back into a
 * known state.
 */
final class QmpReader {
    /** QEMU allows 64 MiB per token; no QMP command needs a thousandth of this. */
    static final int MAX_MESSAGE_BYTES = 1 << 20;

    /** One message read: the JSON text, or a framing error to reply with. */
    sealed interface Item {
        record Text(String json) implements Item {
        }

        record Error(String desc) implements Item {
        }
    }

    private final InputStream in;
    private final ByteArrayOutputStream message = new ByteArrayOutputStream();
    private long depth;
    /** The quote that opened the string being read, or 0 outside strings. */
    private int quote;
    private boolean escape;
    /** The message under way is too large or too deep: skipped, not stored. */
    private boolean skipping;
    private String skipReason;
    /** A bare scalar (number, keyword, garbage) at the top level is under way. */
    private boolean scalar;

    QmpReader(InputStream in) {
        this.in = in;
    }

    /** The next message, or null at the end of the stream (a message cut off there is dropped). */
    Item next() throws IOException {
        while (true) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b == 0xff) {
                reset();
                return new Item.Error("JSON parse error, invalid character 0x" + Integer.toHexString(b)
                        + " (input discarded up to here)");
            }
            Item done = take(b);
            if (done != null) {
                return done;
            }
        }
    }

    private Item take(int b) {
        if (scalar && (isSpace(b) || b == '{' || b == '[' || b == '}' || b == ']' || b == '"' || b == '\''
                || b == ',' || b == ':')) {
            // A scalar ends at a delimiter, which then starts the next message (or is skipped).
            Item item = finish();
            if (!isSpace(b)) {
                Item next = take(b);
                if (next != null) {
                    // Two messages in one byte cannot happen: only a closing bracket completes one,
                    // and a closing bracket at the top level is the error returned here instead.
                    return next;
                }
            }
            return item;
        }
        if (depth == 0 && quote == 0 && !scalar) {
            if (isSpace(b)) {
                return null;
            }
            if (b == '}' || b == ']' || b == ',' || b == ':') {
                return new Item.Error("JSON parse error, unexpected '" + (char) b + "'");
            }
        }
        store(b);
        if (quote != 0) {
            if (escape) {
                escape = false;
            } else if (b == '\\') {
                escape = true;
            } else if (b == quote) {
                quote = 0;
                if (depth == 0) {
                    return finish(); // a bare string
                }
            }
            return null;
        }
        switch (b) {
            case '"', '\'' -> quote = b;
            case '{', '[' -> {
                depth++;
                if (depth > Json.MAX_DEPTH) {
                    skip("JSON parse error, too deeply nested (more than " + Json.MAX_DEPTH + " levels)");
                }
            }
            case '}', ']' -> {
                depth--;
                if (depth == 0) {
                    return finish();
                }
            }
            default -> {
                if (depth == 0) {
                    scalar = true;
                }
            }
        }
        return null;
    }

    private static boolean isSpace(int b) {
        return b == ' ' || b == '\t' || b == '\r' || b == '\n';
    }

    private void store(int b) {
        if (skipping) {
            return;
        }
        if (message.size() >= MAX_MESSAGE_BYTES) {
            skip("JSON parse error, message longer than " + MAX_MESSAGE_BYTES + " bytes");
            return;
        }
        message.write(b);
    }

    private void skip(String reason) {
        if (!skipping) {
            skipping = true;
            skipReason = reason;
            message.reset();
        }
    }

    private Item finish() {
        Item item;
        if (skipping) {
            item = new Item.Error(skipReason);
        } else {
            try {
                item = new Item.Text(StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(message.toByteArray())).toString());
            } catch (CharacterCodingException e) {
                item = new Item.Error("JSON parse error, invalid UTF-8 sequence");
            }
        }
        reset();
        return item;
    }

    private void reset() {
        message.reset();
        depth = 0;
        quote = 0;
        escape = false;
        skipping = false;
        skipReason = null;
        scalar = false;
    }
}
