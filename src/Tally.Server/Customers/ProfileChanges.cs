using System.Globalization;
using System.Text.Json;
using Tally.Customers;
using Tally.Events;
using Tally.Server.Http;

namespace Tally.Server.Customers;

/// <summary>
/// The profile fields a PUT or PATCH body sets. Read-only fields that a client may echo back from a GET
/// (balance, tier, segments, lock, timestamps) are ignored; an unknown field is an error, so a typo never
/// silently does nothing.
/// </summary>
public sealed class ProfileChanges
{
    private static readonly HashSet<string> ReadOnly = new(StringComparer.OrdinalIgnoreCase)
    {
        "customerId", "tenantId", "segments", "pointsBalance", "tier", "changedAt", "isAccountLocked",
    };

    private readonly List<Func<CustomerProfile, CustomerProfile>> edits = [];

    public CustomerProfile ApplyTo(CustomerProfile start) => edits.Aggregate(start, (p, edit) => edit(p));

    public static ProfileChanges Parse(JsonElement body, Guid customerId, List<FieldError> errors)
    {
        var changes = new ProfileChanges();
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("$", "The body must be a JSON object."));
            return changes;
        }

        foreach (var p in body.EnumerateObject())
        {
            var path = "$." + p.Name;
            var v = p.Value;
            switch (p.Name.ToUpperInvariant())
            {
                case "FIRSTNAME": changes.Text(v, path, errors, (c, s) => c with { FirstName = s }); break;
                case "LASTNAME": changes.Text(v, path, errors, (c, s) => c with { LastName = s }); break;
                case "DISPLAYNAME": changes.Text(v, path, errors, (c, s) => c with { DisplayName = s }); break;
                case "EMAILADDRESS": changes.Email(v, path, errors); break;
                case "MOBILENUMBER": changes.Text(v, path, errors, (c, s) => c with { MobileNumber = s }); break;
                case "CONTACTPHONE": changes.Text(v, path, errors, (c, s) => c with { ContactPhone = s }); break;
                case "EXTERNALREFERENCE": changes.Text(v, path, errors, (c, s) => c with { ExternalReference = string.IsNullOrEmpty(s) ? null : s }); break;
                case "EXTERNALSTATUS": changes.Text(v, path, errors, (c, s) => c with { ExternalStatus = s }); break;
                case "OPTINSMS": changes.Flag(v, path, errors, (c, b) => c with { OptinSms = b }); break;
                case "OPTINEMAIL": changes.Flag(v, path, errors, (c, b) => c with { OptinEmail = b }); break;
                case "ACCEPTTERMS": changes.Flag(v, path, errors, (c, b) => c with { AcceptTerms = b }); break;
                case "DATEOFBIRTH": changes.Date(v, path, errors); break;
                case "CREATEDAT": changes.Created(v, path, errors); break;
                case "ATTRIBUTES": changes.Attributes(v, path, errors); break;
                case "CUSTOMERID" when v.ValueKind == JsonValueKind.String && (!Guid.TryParse(v.GetString(), out var echoed) || echoed != customerId):
                    errors.Add(new FieldError(path, "Does not match the customerId of the URL."));
                    break;
                default:
                    if (!ReadOnly.Contains(p.Name)) errors.Add(new FieldError(path, "Unknown field."));
                    break;
            }
        }

        return changes;
    }

    private void Text(JsonElement v, string path, List<FieldError> errors, Func<CustomerProfile, string?, CustomerProfile> set)
    {
        if (v.ValueKind is JsonValueKind.Null) edits.Add(c => set(c, null));
        else if (v.ValueKind is JsonValueKind.String && v.GetString()!.Length <= 500) edits.Add(c => set(c, v.GetString()));
        else errors.Add(new FieldError(path, "Expected a string of at most 500 characters, or null."));
    }

    private void Email(JsonElement v, string path, List<FieldError> errors)
    {
        if (v.ValueKind is JsonValueKind.String && v.GetString() is var s && (s!.Length == 0 || (s.Length <= 320 && s.IndexOf('@', StringComparison.Ordinal) > 0)))
            edits.Add(c => c with { EmailAddress = s.Length == 0 ? null : s.Trim() });
        else if (v.ValueKind is JsonValueKind.Null) edits.Add(c => c with { EmailAddress = null });
        else errors.Add(new FieldError(path, "Expected an email address, or null."));
    }

    private void Flag(JsonElement v, string path, List<FieldError> errors, Func<CustomerProfile, bool, CustomerProfile> set)
    {
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) edits.Add(c => set(c, v.GetBoolean()));
        else errors.Add(new FieldError(path, "Expected true or false."));
    }

    private void Date(JsonElement v, string path, List<FieldError> errors)
    {
        if (v.ValueKind is JsonValueKind.Null)
        {
            edits.Add(c => c with { DateOfBirth = null });
            return;
        }

        var s = v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        if (DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
            edits.Add(c => c with { DateOfBirth = d });
        else if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t))
            edits.Add(c => c with { DateOfBirth = DateOnly.FromDateTime(t.Date) });
        else errors.Add(new FieldError(path, "Expected a date such as 1990-02-28."));
    }

    private void Created(JsonElement v, string path, List<FieldError> errors)
    {
        if (v.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            edits.Add(c => c with { CreatedAt = t });
        else errors.Add(new FieldError(path, "Expected an instant such as 2024-02-29T09:00:00Z."));
    }

    private void Attributes(JsonElement v, string path, List<FieldError> errors)
    {
        if (v.ValueKind is JsonValueKind.Null)
        {
            edits.Add(c => c with { Attributes = [] });
            return;
        }

        if (v.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new FieldError(path, "Expected a list of {key, value}."));
            return;
        }

        var list = new List<KeyValue>();
        var i = 0;
        foreach (var item in v.EnumerateArray())
        {
            var itemPath = $"{path}[{i++}]";
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("key", out var key) || key.ValueKind != JsonValueKind.String)
            {
                errors.Add(new FieldError(itemPath, "Expected {key, value} with a string key."));
                continue;
            }

            var value = item.TryGetProperty("value", out var val) ? val.ValueKind switch
            {
                JsonValueKind.String => val.GetString(),
                JsonValueKind.Null => null,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => val.GetRawText(),
                _ => "\u0000",
            } : null;
            if (value == "\u0000") errors.Add(new FieldError(itemPath + ".value", "Expected a string, number or boolean."));
            else if (key.GetString()!.Length > 200) errors.Add(new FieldError(itemPath + ".key", "Expected a key of at most 200 characters."));
            else if (value?.Length > 2_000) errors.Add(new FieldError(itemPath + ".value", "Expected a value of at most 2,000 characters."));
            else list.Add(new KeyValue { Key = key.GetString(), Value = value });
        }

        edits.Add(c => c with { Attributes = list });
    }
}
