// quote_split_test.cpp — split_reply on realistic replies: Gmail, Outlook, Apple Mail and
// Thunderbird in pt_BR and en (plus fr/de attributions), "> " runs, signatures, and the
// conservative cases where everything must stay in new_text.
#include <catch2/catch.hpp>

#include "parsers/mime_reader.h"
#include "parsers/quote_split.h"

using atendd::split_reply;

TEST_CASE("Gmail pt_BR reply with the attribution wrapped inside the date", "[quote]") {
  const auto s = split_reply(
      "Bom dia\n\nO boleto ainda não chegou.\n\nAtt\nMaria\n\n"
      "Em qua., 3 de mai. de 2023 às 10:15, Suporte Exemplo <\n"
      "suporte@example.com.br> escreveu:\n\n"
      "> Olá Maria,\n>\n> Seu chamado foi aberto.\n");
  CHECK(s.new_text == "Bom dia\n\nO boleto ainda não chegou.\n\nAtt\nMaria");
  CHECK(s.quoted.rfind("Em qua.", 0) == 0);
  CHECK(s.quoted.find("Seu chamado foi aberto.") != std::string::npos);
  CHECK(s.signature.empty());
}

TEST_CASE("Gmail pt_BR reply with the line break between date and time", "[quote]") {
  const auto s = split_reply(
      "Pode fechar, obrigado.\r\n\r\nEm seg., 8 de jan. de 2024,\r\n"
      "09:02, Suporte <suporte@example.com.br> escreveu:\r\n\r\n> texto antigo\r\n");
  CHECK(s.new_text == "Pode fechar, obrigado.");
  CHECK(s.quoted.find("texto antigo") != std::string::npos);
}

TEST_CASE("Gmail en reply with a dash-dash signature", "[quote]") {
  const auto s = split_reply(
      "Hi\n\nThe printer works again.\n\n-- \nJohn Smith\nACME Ltd\n\n"
      "On Wed, May 3, 2023 at 10:15 AM Support <support@example.com> wrote:\n\n"
      "> Hello John\n> Please restart it.\n");
  CHECK(s.new_text == "Hi\n\nThe printer works again.");
  CHECK(s.signature == "-- \nJohn Smith\nACME Ltd");
  CHECK(s.quoted.rfind("On Wed", 0) == 0);
}

TEST_CASE("Outlook pt_BR reply with Mensagem original separator", "[quote]") {
  const auto s = split_reply(
      "Segue o comprovante.\n\nJoão Pereira\nFinanceiro\n\n"
      "-----Mensagem original-----\nDe: Suporte <suporte@example.com.br>\n"
      "Enviada em: terça-feira, 2 de maio de 2023 16:20\nPara: João Pereira <joao@example.com.br>\n"
      "Assunto: [#20230502000012] Pagamento\n\nOlá João\n");
  CHECK(s.new_text == "Segue o comprovante.\n\nJoão Pereira\nFinanceiro");
  CHECK(s.quoted.rfind("-----Mensagem original-----", 0) == 0);
}

TEST_CASE("Outlook pt_BR reply with a De Enviado Para Assunto block", "[quote]") {
  const auto s = split_reply(
      "Obrigado, resolvido.\n\n________________________________\n"
      "De: Suporte Exemplo <suporte@example.com.br>\nEnviado: quarta-feira, 3 de maio de 2023 10:15\n"
      "Para: Ana <ana@example.com.br>\nCc: chefe@example.com.br\nAssunto: RE: [#123] Acesso\n\n"
      "Olá Ana, tente de novo.\n");
  CHECK(s.new_text == "Obrigado, resolvido.");
  CHECK(s.quoted.rfind("________________________________\nDe: Suporte Exemplo", 0) == 0);
}

TEST_CASE("Outlook en reply with an Original Message separator and a From Sent To Subject block", "[quote]") {
  const auto s1 = split_reply(
      "Thanks, that fixed it.\n\n-----Original Message-----\nFrom: Support <support@example.com>\n"
      "Sent: Tuesday, May 2, 2023 4:20 PM\nTo: Bob <bob@example.com>\nSubject: Printer\n\nHello Bob\n");
  CHECK(s1.new_text == "Thanks, that fixed it.");
  const auto s2 = split_reply(
      "Works now.\n\nFrom: Support <support@example.com>\nSent: Tuesday, May 2, 2023 4:20 PM\n"
      "To: Bob <bob@example.com>\nSubject: Printer\n\nHello Bob\n");
  CHECK(s2.new_text == "Works now.");
  CHECK(s2.quoted.rfind("From: Support", 0) == 0);
}

TEST_CASE("a From line without the rest of a header block is new text", "[quote]") {
  const std::string text = "From: the accounting team\nWe need the invoice for May.\nRegards\n";
  CHECK(split_reply(text).new_text == "From: the accounting team\nWe need the invoice for May.\nRegards");
}

TEST_CASE("Apple Mail pt_BR reply with Enviado do meu iPhone", "[quote]") {
  const auto s = split_reply(
      "Ok, aguardo.\n\nEnviado do meu iPhone\n\n"
      "> Em 3 de mai. de 2023, à(s) 10:15, Suporte <suporte@example.com.br> escreveu:\n>\n"
      "> Seu pedido foi enviado.\n");
  CHECK(s.new_text == "Ok, aguardo.");
  CHECK(s.signature == "Enviado do meu iPhone");
  CHECK(s.quoted.find("Seu pedido foi enviado.") != std::string::npos);
}

TEST_CASE("Apple Mail en reply with an unmarked quote after the attribution", "[quote]") {
  const auto s = split_reply(
      "Sounds good.\n\nSent from my iPhone\n\n"
      "On 3 May 2023, at 10:15, Support <support@example.com> wrote:\n\nYour order shipped.\n");
  CHECK(s.new_text == "Sounds good.");
  CHECK(s.signature == "Sent from my iPhone");
  CHECK(s.quoted.rfind("On 3 May 2023", 0) == 0);
}

TEST_CASE("Thunderbird pt_BR and en replies", "[quote]") {
  const auto pt = split_reply(
      "Segue anexo.\n\nEm 03/05/2023 10:15, Suporte Exemplo escreveu:\n> Envie o arquivo.\n");
  CHECK(pt.new_text == "Segue anexo.");
  const auto en = split_reply("Attached.\n\nOn 03/05/2023 10:15, Support wrote:\n> Send the file.\n");
  CHECK(en.new_text == "Attached.");
  CHECK(en.quoted == "On 03/05/2023 10:15, Support wrote:\n> Send the file.");
}

TEST_CASE("French and German attributions", "[quote]") {
  CHECK(split_reply("Merci.\n\nLe mer. 3 mai 2023 à 10:15, Support <s@example.fr> a écrit :\n> Bonjour\n")
            .new_text == "Merci.");
  CHECK(split_reply("Danke.\n\nAm 03.05.2023 um 10:15 schrieb Support <s@example.de>:\n> Hallo\n").new_text ==
        "Danke.");
}

TEST_CASE("a smartphone signature is cut", "[quote]") {
  const auto s = split_reply("Chego às 14h.\n\nEnviado do meu smartphone Samsung Galaxy.\n");
  CHECK(s.new_text == "Chego às 14h.");
  CHECK(s.signature == "Enviado do meu smartphone Samsung Galaxy.");
}

TEST_CASE("a dash-dash line without the trailing space is no signature delimiter", "[quote]") {
  CHECK(split_reply("a\n--\nb\n").new_text == "a\n--\nb");
}

TEST_CASE("inline answers between quoted lines stay whole", "[quote]") {
  const std::string text =
      "On Tue, Support wrote:\n> Which model?\nHP 123\n> Which floor?\nThird\n";
  const auto s = split_reply(text);
  CHECK(s.new_text == "On Tue, Support wrote:\n> Which model?\nHP 123\n> Which floor?\nThird");
  CHECK(s.quoted.empty());
}

TEST_CASE("a message that is all quote or all signature keeps its text", "[quote]") {
  const std::string quote = "> only old text\n> more\n";
  CHECK(split_reply(quote).new_text == quote);
  CHECK(split_reply(quote).quoted.empty());
  const std::string forward = "On Mon, Ana wrote:\n> hi\n";
  CHECK(split_reply(forward).new_text == forward);
  const std::string sig = "-- \nJohn\n";
  CHECK(split_reply(sig).new_text == sig);
  CHECK(split_reply("").new_text.empty());
}

TEST_CASE("plain text without quotes is unchanged", "[quote]") {
  const auto s = split_reply("Bom dia\n\nPreciso de ajuda com o login.\nOn the other hand it wrote nothing.\n");
  CHECK(s.new_text == "Bom dia\n\nPreciso de ajuda com o login.\nOn the other hand it wrote nothing.");
  CHECK(s.quoted.empty());
  CHECK(s.signature.empty());
}

TEST_CASE("parse_message fills new_text from the body", "[quote]") {
  const auto m = atendd::parse_message(
      "From: maria@example.com.br\nSubject: Re: pedido\n\nChegou, obrigada.\n\n"
      "Em 3 de mai. de 2023, Suporte <suporte@example.com.br> escreveu:\n> Enviamos hoje.\n");
  CHECK(m.new_text == "Chegou, obrigada.");
  CHECK(m.text.find("Enviamos hoje.") != std::string::npos);
  CHECK(atendd::parse_message("From: a@x.com\n\nhello\n").new_text == "hello");
}
