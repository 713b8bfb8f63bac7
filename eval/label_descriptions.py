"""Label descriptions for the dev sets, written from the label names and the data sets'
published label definitions (not from the evaluated rows), as a caller would write them.

`make eval` scores zero-shot with names only and with these descriptions, so the gain a
caller gets from describing their labels is measured, not assumed.
"""

AG_NEWS = {
    "World": "World news: international affairs, governments, elections, war, conflict, "
    "diplomacy and terrorism.",
    "Sports": "Sports news: games, matches, teams, players, coaches, leagues and championships.",
    "Business": "Business news: companies, markets, stocks, earnings, the economy, trade, "
    "oil prices and mergers.",
    "Science and Technology": "Science and technology news: computers, software, the internet, "
    "gadgets, space, research and discoveries.",
}

BBC_NEWS = {
    "business": "Business news: companies, markets, the economy, profits, shares and trade.",
    "entertainment": "Entertainment news: films, music, television, actors, awards and "
    "celebrities.",
    "politics": "Politics news: government, parliament, parties, ministers, elections and policy.",
    "sport": "Sport news: football, rugby, tennis, athletics, matches, players and championships.",
    "tech": "Technology news: computers, the internet, mobile phones, software, games and gadgets.",
}

BANKING77 = {
    "Refund not showing up": "I asked for a refund but it has not shown up in my account yet.",
    "activate my card": "How do I activate my new card?",
    "age limit": "How old do I need to be to open an account? Is there an age limit?",
    "apple pay or google pay": "Can I use Apple Pay or Google Pay with my card?",
    "atm support": "Which ATMs can I use to withdraw cash with my card?",
    "automatic top up": "How does automatic top-up (auto top-up) work and how do I set it up?",
    "balance not updated after bank transfer": "I made a bank transfer but my balance has not "
    "been updated yet.",
    "balance not updated after cheque or cash deposit": "I deposited a cheque or cash but my "
    "balance has not been updated.",
    "beneficiary not allowed": "I cannot add a beneficiary or payee; the beneficiary is not "
    "allowed.",
    "cancel transfer": "I want to cancel a transfer I made by mistake.",
    "card about to expire": "My card is about to expire; how do I get a new one?",
    "card acceptance": "Where is my card accepted? Can I use it in shops everywhere?",
    "card arrival": "My new card has not arrived yet; I am still waiting for it in the mail.",
    "card delivery estimate": "How long will it take for my card to be delivered?",
    "card linking": "How do I link my existing card to the app?",
    "card not working": "My card is not working and keeps getting rejected.",
    "card payment fee charged": "I was charged a fee for a card payment.",
    "card payment not recognised": "There is a card payment on my account that I do not "
    "recognise and did not make.",
    "card payment wrong exchange rate": "The exchange rate applied to my card payment abroad "
    "was wrong.",
    "card swallowed": "The ATM swallowed my card and did not give it back.",
    "cash withdrawal charge": "I was charged a fee for withdrawing cash from an ATM.",
    "cash withdrawal not recognised": "There is a cash withdrawal on my account that I did not "
    "make.",
    "change pin": "How do I change my PIN?",
    "compromised card": "I think my card has been compromised or someone else has used my "
    "card details fraudulently.",
    "contactless not working": "Contactless payment is not working with my card.",
    "country support": "Which countries do you support? Can I use the service in my country?",
    "declined card payment": "My card payment was declined in a shop.",
    "declined cash withdrawal": "The ATM declined my cash withdrawal.",
    "declined transfer": "My transfer was declined and did not go through.",
    "direct debit payment not recognised": "There is a direct debit payment on my account that "
    "I do not recognise.",
    "disposable card limits": "How many times can I use a disposable virtual card? What are "
    "its limits?",
    "edit personal details": "How do I change my personal details like my name or address?",
    "exchange charge": "Is there a fee or charge for exchanging currencies?",
    "exchange rate": "What exchange rate do you use for currency conversion?",
    "exchange via app": "Can I exchange money to another currency in the app?",
    "extra charge on statement": "There is an extra charge on my statement that I do not "
    "understand.",
    "failed transfer": "My transfer failed.",
    "fiat currency support": "Which fiat currencies can I hold and exchange?",
    "get disposable virtual card": "How do I get a disposable virtual card?",
    "get physical card": "How do I get a physical card?",
    "getting spare card": "Can I get a spare or additional card?",
    "getting virtual card": "How do I get a virtual card?",
    "lost or stolen card": "My card was lost or stolen.",
    "lost or stolen phone": "My phone was lost or stolen and the app is on it.",
    "order physical card": "I want to order a physical card.",
    "passcode forgotten": "I forgot my passcode for the app and cannot log in.",
    "pending card payment": "My card payment is still pending.",
    "pending cash withdrawal": "My cash withdrawal is still showing as pending.",
    "pending top up": "My top-up is still pending.",
    "pending transfer": "My transfer is still pending.",
    "pin blocked": "My PIN is blocked after too many wrong attempts.",
    "receiving money": "How can I receive money into my account?",
    "request refund": "I want to request a refund for something I bought.",
    "reverted card payment?": "My card payment was reverted or returned to my account.",
    "supported cards and currencies": "Which cards and currencies are supported for top-up?",
    "terminate account": "I want to close or delete my account.",
    "top up by bank transfer charge": "Is there a fee for topping up by bank transfer?",
    "top up by card charge": "I was charged a fee for topping up with my card.",
    "top up by cash or cheque": "Can I top up my account with cash or a cheque?",
    "top up failed": "My top-up failed and did not go through.",
    "top up limits": "What are the limits on how much I can top up?",
    "top up reverted": "My top-up was reverted or cancelled.",
    "topping up by card": "How do I top up my account with a card?",
    "transaction charged twice": "I was charged twice for the same transaction.",
    "transfer fee charged": "I was charged a fee for a transfer.",
    "transfer into account": "How do I transfer money into my account?",
    "transfer not received by recipient": "The person I sent money to has not received my "
    "transfer.",
    "transfer timing": "How long does a transfer take to arrive?",
    "unable to verify identity": "I am unable to verify my identity; the verification fails.",
    "verify my identity": "How do I verify my identity?",
    "verify source of funds": "Why do I need to verify the source of my funds, and how?",
    "verify top up": "Why do I need to verify my top-up with a code?",
    "virtual card not working": "My virtual card is not working.",
    "visa or mastercard": "Is the card a Visa or a Mastercard?",
    "why verify identity": "Why do I have to verify my identity?",
    "wrong amount of cash received": "The ATM gave me the wrong amount of cash.",
    "wrong exchange rate for cash withdrawal": "The exchange rate for my cash withdrawal abroad "
    "was wrong.",
}

BY_SET = {"AG News": AG_NEWS, "Banking77": BANKING77, "BBC news": BBC_NEWS}
