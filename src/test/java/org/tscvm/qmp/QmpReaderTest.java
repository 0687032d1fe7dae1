package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The framer that cuts a QMP byte stream into messages (the JSON in it: org.tscvm.json). */
class QmpReaderTest {
    private static List<Object> frame(String stream) throws IOException {
        return frame(stream.getBytes(StandardCharsets.UTF_8));
    }

    private static List<Object> frame(byte[] stream) throws IOException {
        QmpReader r = new QmpReader(new ByteArrayInputStream(stream));
        List<Object> items = new ArrayList<>();
        QmpReader.Item item;
        while ((item = r.next()) != null) {
            items.add(item instanceof QmpReader.Item.Text t ? t.json() : ((QmpReader.Item.Error) item).desc());
        }
        return items;
    }

    @Test
    void theFramerCutsMessagesAtTheirClosingBracketNewlinesOrNot() throws IOException {
        assertThat(frame("{\"a\": \"}{\"}{\"b\": [1, {\"c\": 2}]}\n\n  {'d': '\\''}\r\n"))
                .containsExactly("{\"a\": \"}{\"}", "{\"b\": [1, {\"c\": 2}]}", "{'d': '\\''}");
        assertThat(frame("{\n \"execute\":\n \"stop\"\n}")).containsExactly("{\n \"execute\":\n \"stop\"\n}");
        assertThat(frame("42 true{\"x\": 1}")).containsExactly("42", "true", "{\"x\": 1}");
        assertThat(frame("{\"cut off\": ")).isEmpty(); // the end of the stream drops a partial message
    }

    @Test
    void theFramerReportsLexicalErrorsAndStartsAfresh() throws IOException {
        List<Object> items = frame("{\"execute\": \"st\u0001{\"execute\": \"cont\"}");
        assertThat(items).hasSize(2);
        assertThat((String) items.get(0)).startsWith("JSON parse error, invalid character 0x1");
        assertThat(items.get(1)).isEqualTo("{\"execute\": \"cont\"}");
        assertThat(frame("]{}")).containsExactly("JSON parse error, unexpected ']'", "{}");
        byte[] badUtf8 = {'"', (byte) 0xc3, '"'};
        assertThat(frame(badUtf8)).containsExactly("JSON parse error, invalid UTF-8 sequence");
    }

    @Test
    void theFramerSkipsWhatIsTooLongOrTooDeepWithoutStoringIt() throws IOException {
        String huge = "{\"x\": \"" + "y".repeat(QmpReader.MAX_MESSAGE_BYTES) + "\"}";
        assertThat(frame(huge + "{}")).containsExactly(
                "JSON parse error, message longer than " + QmpReader.MAX_MESSAGE_BYTES + " bytes", "{}");
        int n = 10_000_000; // 20 MB of brackets: counted, never stored
        StringBuilder deep = new StringBuilder(2 * n + 2);
        deep.append("[".repeat(n)).append("]".repeat(n)).append("{}");
        List<Object> items = frame(deep.toString());
        assertThat(items).hasSize(2);
        assertThat((String) items.get(0)).contains("too deeply nested");
        assertThat(items.get(1)).isEqualTo("{}");
    }
}
