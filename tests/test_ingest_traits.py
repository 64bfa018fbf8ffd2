from analytics.models import Event, Group, Person


def acme_with(traits, **extra):
    """A group call of u1 into acme with ``traits``."""
    return {"type": "group", "userId": "u1", "groupId": "acme", "traits": traits, **extra}


def test_group_traits_merge_sent_null_and_missing(send, company):
    send.batch(acme_with({"name": "Acme", "plan": "pro", "seats": 10}))
    send.batch(acme_with({"plan": None, "seats": 12}))
    assert Group.objects.get(key="acme").properties == {"name": "Acme", "plan": None, "seats": 12}


def test_reserved_group_traits_are_case_insensitive(send, company):
    send.batch(acme_with({"created_at": "2020-01-01", "Industry": "Retail"}))
    send.batch(acme_with({"createdAt": "2021-06-01"}))
    assert Group.objects.get(key="acme").properties == {"createdAt": "2021-06-01", "industry": "Retail"}


def test_custom_traits_keep_their_case(send, company):
    send.batch(acme_with({"Stripe Customer Id": "cus_1", "stripe customer id": "cus_2"}))
    assert Group.objects.get(key="acme").properties == {
        "Stripe Customer Id": "cus_1", "stripe customer id": "cus_2",
    }


def test_identify_traits_merge_the_same_way(send):
    send.post("identify", {"userId": "u1", "traits": {"first_name": "Ann", "email": "Ann@Acme.com", "role": "pm"}})
    send.post("identify", {"userId": "u1", "traits": {"FirstName": "Anne", "role": None}})
    person = Person.objects.get(user_id="u1")
    assert person.traits == {"firstName": "Anne", "email": "Ann@Acme.com", "role": None}
    assert person.email == "ann@acme.com"


def test_identify_event_keeps_the_traits_it_sent(send):
    send.post("identify", {"userId": "u1", "traits": {"created_at": "2020"}})
    assert Event.objects.get().properties == {"createdAt": "2020"}
