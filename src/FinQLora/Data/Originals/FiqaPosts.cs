using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Tasks;

namespace FinQLora.Data.Originals;

/// <summary>
/// FiQA 2018 task 1 posts (<c>task1_post_ABSA_train.json</c>: id → {sentence, info: [{sentiment_score, …}]})
/// as FLARE FiQA-SA rows. The score (the mean over a post's aspects, in [−1, 1]) becomes a label with
/// the thresholds that reproduce PIXIU's FiQA-SA labels on the posts that both hold (547 of 547):
/// score ≤ −0.1 → negative, score ≥ 0.1 → positive, else neutral. Split by
/// <see cref="DeterministicSplit"/> of the sentence (20% test, 16% valid).
/// </summary>
public static class FiqaPosts
{
    public const double Threshold = 0.1;
    public const string Instruction = "What is the sentiment of the following financial post: Positive, Negative, or Neutral?";

    public static string Label(double score) => score <= -Threshold ? "negative" : score >= Threshold ? "positive" : "neutral";

    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, bool skipBadRows = false)
    {
        var task = FlareTasks.Get("fiqasa");
        JsonObject root;
        try { root = IO.JsonFile.ParseNode(IO.InputFile.ReadText(path, FlareJsonl.MaxArrayFileBytes)) as JsonObject ?? throw new FinQLoraException($"{path}: expected a JSON object of posts"); }
        catch (JsonException e) { throw new FinQLoraException($"{path}: invalid JSON ({e.Message})"); }
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        foreach (var (key, post) in root)
        {
            try
            {
                var sentence = post?["sentence"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Trim().Length > 0 ? s.Trim()
                    : throw new FlareJsonl.RowException("missing \"sentence\"");
                var scores = (post["info"] as JsonArray ?? throw new FlareJsonl.RowException("missing \"info\" list"))
                    .Select(i => double.TryParse(i?["sentiment_score"]?.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
                        : throw new FlareJsonl.RowException("\"sentiment_score\" is not a number")).ToList();
                if (scores.Count == 0) throw new FlareJsonl.RowException("\"info\" is empty");
                var label = Label(scores.Average());
                rows.Add(new FlareRow
                {
                    Id = "fiqasa-" + key, Task = "fiqasa", Split = DeterministicSplit.Of(sentence),
                    Query = $"{Instruction}\nText: {sentence}\nAnswer:", Answer = label, Text = sentence,
                    Choices = task.Choices, Gold = task.Choices.ToList().IndexOf(label),
                });
            }
            catch (FlareJsonl.RowException e)
            {
                var message = $"{path}: post {key}: {e.Message}";
                if (!skipBadRows) throw new BadRowException(message);
                problems.Add(message);
            }
        }
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }
}
